"""The notifications API under /api/v1/notifications."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from gravity_platform.kernel.routing import current_principal, service_of
from gravity_platform.services.notifications.plugin import SELF, NotificationsService
from gravity_platform.services.notifications.schemas import (
    InboxItem,
    InboxPage,
    MarkedRead,
    Notification,
    Preferences,
    PreferencesUpdate,
    PushSubscription,
    PushSubscriptionCreate,
    PushSubscriptionList,
    SendRequest,
    SendResult,
    Template,
    TemplateList,
    TemplateSave,
    UnreadCount,
    VapidKey,
)

TEMPLATES = "notifications:templates"
SEND = "notifications:send"
AnyRequest = Request[Any, Any, Any]
Name = Annotated[str, PathParameter(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$", max_length=100)]
LocaleQuery = Annotated[str, QueryParameter(max_length=35)]


def _service(request: AnyRequest) -> NotificationsService:
    return service_of(request, NotificationsService)


class TemplatesController(Controller):
    """Templates (admins): every save adds a version."""

    path = "/api/v1/notifications/templates"
    tags = ["notifications"]

    @get("/", opt={"permission": TEMPLATES})
    async def list_templates(self, request: AnyRequest) -> TemplateList:
        """The latest version of every template, by name and locale."""
        return TemplateList(items=await _service(request).templates.latest())

    @put("/{name:str}", opt={"permission": TEMPLATES}, status_code=201)
    async def save_template(self, request: AnyRequest, name: Name, data: JSONBody[TemplateSave]) -> Template:
        """Create a template or add a new version; 422 if any source does not compile or is unsafe."""
        return await _service(request).templates.save(name, data, actor=current_principal(request).subject)

    @get("/{name:str}", opt={"permission": TEMPLATES})
    async def get_template(self, request: AnyRequest, name: Name, locale: LocaleQuery = "",
                           version: Annotated[int | None, QueryParameter(ge=1)] = None) -> Template:
        """One version of a template (the latest unless `version` is given)."""
        return await _service(request).templates.get(name, locale, version)

    @get("/{name:str}/versions", opt={"permission": TEMPLATES})
    async def template_versions(self, request: AnyRequest, name: Name,
                                locale: LocaleQuery = "") -> TemplateList:
        """Every version of a template, newest first."""
        return TemplateList(items=await _service(request).templates.versions(name, locale))

    @delete("/{name:str}", opt={"permission": TEMPLATES}, status_code=204)
    async def delete_template(self, request: AnyRequest, name: Name, locale: LocaleQuery = "") -> None:
        """Delete every version of a template in one locale (sent notifications keep their content)."""
        await _service(request).templates.delete(name, locale, actor=current_principal(request).subject)


class NotificationsController(Controller):
    """Sending (admins and service clients) and delivery status."""

    path = "/api/v1/notifications"
    tags = ["notifications"]

    @post("/", opt={"permission": SEND}, status_code=201)
    async def send(self, request: AnyRequest, data: JSONBody[SendRequest]) -> SendResult:
        """Notify users through the channels they allow; the same idempotency key notifies once."""
        return await _service(request).sender.send(data, sender=current_principal(request).subject)

    @get("/{notification_id:uuid}", opt={"permission": SEND})
    async def get_notification(self, request: AnyRequest, notification_id: FromPath[UUID]) -> Notification:
        """A notification with each channel's status, attempts and last error (its sender or an admin)."""
        principal = current_principal(request)
        sender = None if principal.is_admin else principal.subject
        return await _service(request).sender.get(str(notification_id), sender=sender)


class PreferencesController(Controller):
    """The caller's channel preferences, phone number and Web Push subscriptions."""

    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/preferences", opt={"permission": SELF})
    async def get_preferences(self, request: AnyRequest) -> Preferences:
        """The caller's preferences (every channel is on unless turned off)."""
        return await _service(request).contacts.get(current_principal(request).subject)

    @patch("/preferences", opt={"permission": SELF})
    async def update_preferences(self, request: AnyRequest, data: JSONBody[PreferencesUpdate]) -> Preferences:
        """Change channels, per-category overrides, locale or phone number; 422 for an invalid number."""
        return await _service(request).contacts.update(current_principal(request).subject, data)

    @get("/push-subscriptions", opt={"permission": SELF})
    async def list_subscriptions(self, request: AnyRequest) -> PushSubscriptionList:
        """The caller's push subscriptions."""
        return PushSubscriptionList(items=await _service(request).contacts.subscriptions(
            current_principal(request).subject))

    @post("/push-subscriptions", opt={"permission": SELF}, status_code=201)
    async def subscribe(self, request: AnyRequest, data: JSONBody[PushSubscriptionCreate]) -> PushSubscription:
        """Register a browser's `PushSubscription.toJSON()`."""
        return await _service(request).contacts.subscribe(current_principal(request).subject, data)

    @delete("/push-subscriptions/{subscription_id:uuid}", opt={"permission": SELF}, status_code=204)
    async def unsubscribe(self, request: AnyRequest, subscription_id: FromPath[UUID]) -> None:
        """Forget one of the caller's push subscriptions."""
        await _service(request).contacts.unsubscribe(current_principal(request).subject, str(subscription_id))

    @get("/vapid-public-key", opt={"permission": SELF})
    async def vapid_public_key(self, request: AnyRequest) -> VapidKey:
        """The `applicationServerKey` for `pushManager.subscribe` (null when Web Push is off)."""
        provider = _service(request).push_provider
        return VapidKey(public_key=getattr(provider, "public_key", None))


class InboxController(Controller):
    """The caller's in-app inbox."""

    path = "/api/v1/notifications/inbox"
    tags = ["notifications"]

    @get("/", opt={"permission": SELF})
    async def list_inbox(
        self,
        request: AnyRequest,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        unread: Annotated[bool, QueryParameter()] = False,
    ) -> InboxPage:
        """Inbox items, newest first; follow `next_cursor` for more."""
        service = _service(request)
        return await service.inbox.page(current_principal(request).subject, cursor=cursor,
                                        limit=min(limit, service.settings.inbox_page_max), unread=unread)

    @get("/unread-count", opt={"permission": SELF})
    async def unread_count(self, request: AnyRequest) -> UnreadCount:
        """How many items are unread."""
        return UnreadCount(unread=await _service(request).inbox.unread_count(current_principal(request).subject))

    @post("/{item_id:uuid}/read", opt={"permission": SELF}, status_code=200)
    async def mark_read(self, request: AnyRequest, item_id: FromPath[UUID]) -> InboxItem:
        """Mark one item read."""
        return await _service(request).inbox.mark_read(current_principal(request).subject, str(item_id))

    @post("/read-all", opt={"permission": SELF}, status_code=200)
    async def mark_all_read(self, request: AnyRequest) -> MarkedRead:
        """Mark every item read."""
        return MarkedRead(updated=await _service(request).inbox.mark_all_read(current_principal(request).subject))
