"""``client.notifications``: sending and delivery status, templates, preferences, push subscriptions and the
in-app inbox. Live inbox items arrive over the WebSocket ``/api/v1/realtime`` (topic ``notifications.inbox``)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from types import NoneType
from typing import Any

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._pagination import AsyncPaginator, SyncCursorPage
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.notification import (
    Channel,
    InboxItem,
    MarkedRead,
    Notification,
    Preferences,
    PushSubscription,
    PushSubscriptionList,
    SendResult,
    Template,
    TemplateChannels,
    TemplateList,
    UnreadCount,
    VapidKey,
)

__all__ = ["AsyncNotificationTemplates", "AsyncNotifications", "NotificationTemplates", "Notifications"]

_BASE = "/api/v1/notifications"
_TEMPLATES = f"{_BASE}/templates"
_INBOX = f"{_BASE}/inbox"
_PREFERENCES = f"{_BASE}/preferences"
_PUSH = f"{_BASE}/push-subscriptions"
Timeout = TimeoutTypes | NotGiven


def _send_body(template: str, user_id: str | NotGiven, user_ids: builtins.list[str] | NotGiven,
               data: Mapping[str, Any] | NotGiven, channels: builtins.list[Channel] | NotGiven,
               locale: str | NotGiven, idempotency_key: str | NotGiven) -> dict[str, Any]:
    key = idempotency_key if isinstance(idempotency_key, str) else uuid.uuid4().hex
    return strip_not_given({"template": template, "user_id": user_id, "user_ids": user_ids, "data": data,
                            "channels": channels, "locale": locale, "idempotency_key": key})


def _template_body(channels: TemplateChannels | Mapping[str, Any], locale: str | NotGiven,
                   category: str | NotGiven, description: str | NotGiven) -> dict[str, Any]:
    return strip_not_given({"channels": channels, "locale": locale, "category": category,
                            "description": description})


def _template_path(name: str, suffix: str = "") -> str:
    return f"{_TEMPLATES}/{path_id(name)}{suffix}"


class _Base(APIResource[ClientT]):
    @staticmethod
    def _preferences_body(channels: Mapping[str, bool] | NotGiven,
                          categories: Mapping[str, Mapping[str, bool]] | NotGiven, locale: str | NotGiven | None,
                          phone: str | NotGiven | None) -> dict[str, Any]:
        return strip_not_given({"channels": channels, "categories": categories, "locale": locale, "phone": phone})


class NotificationTemplates(APIResource[SyncAPIClient]):
    """Notification templates (admins); every ``put`` adds a version."""

    def list(self, *, timeout: Timeout = NOT_GIVEN) -> builtins.list[Template]:
        """The latest version of every template, by name and locale."""
        return self._client.request(TemplateList, "GET", f"{_TEMPLATES}/", timeout=timeout).items

    def put(self, name: str, *, channels: TemplateChannels | Mapping[str, Any], locale: str | NotGiven = NOT_GIVEN,
            category: str | NotGiven = NOT_GIVEN, description: str | NotGiven = NOT_GIVEN,
            timeout: Timeout = NOT_GIVEN) -> Template:
        """Create a template or add a version; a source that does not compile raises UnprocessableEntityError."""
        body = _template_body(channels, locale, category, description)
        return self._client.request(Template, "PUT", _template_path(name), json=body, timeout=timeout,
                                    idempotent=False)

    def get(self, name: str, *, locale: str | NotGiven = NOT_GIVEN, version: int | NotGiven = NOT_GIVEN,
            timeout: Timeout = NOT_GIVEN) -> Template:
        """One version of a template (the latest by default)."""
        params = strip_not_given({"locale": locale, "version": version})
        return self._client.request(Template, "GET", _template_path(name), params=params, timeout=timeout)

    def versions(self, name: str, *, locale: str | NotGiven = NOT_GIVEN,
                 timeout: Timeout = NOT_GIVEN) -> builtins.list[Template]:
        """Every version of a template, newest first."""
        params = strip_not_given({"locale": locale})
        path = _template_path(name, "/versions")
        return self._client.request(TemplateList, "GET", path, params=params, timeout=timeout).items

    def delete(self, name: str, *, locale: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> None:
        """Delete every version of a template in one locale."""
        params = strip_not_given({"locale": locale})
        self._client.request(NoneType, "DELETE", _template_path(name), params=params, timeout=timeout)


class AsyncNotificationTemplates(APIResource[AsyncAPIClient]):
    """Notification templates (admins); every ``put`` adds a version."""

    async def list(self, *, timeout: Timeout = NOT_GIVEN) -> builtins.list[Template]:
        """The latest version of every template, by name and locale."""
        return (await self._client.request(TemplateList, "GET", f"{_TEMPLATES}/", timeout=timeout)).items

    async def put(self, name: str, *, channels: TemplateChannels | Mapping[str, Any],
                  locale: str | NotGiven = NOT_GIVEN, category: str | NotGiven = NOT_GIVEN,
                  description: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> Template:
        """Create a template or add a version; a source that does not compile raises UnprocessableEntityError."""
        body = _template_body(channels, locale, category, description)
        return await self._client.request(Template, "PUT", _template_path(name), json=body, timeout=timeout,
                                          idempotent=False)

    async def get(self, name: str, *, locale: str | NotGiven = NOT_GIVEN, version: int | NotGiven = NOT_GIVEN,
                  timeout: Timeout = NOT_GIVEN) -> Template:
        """One version of a template (the latest by default)."""
        params = strip_not_given({"locale": locale, "version": version})
        return await self._client.request(Template, "GET", _template_path(name), params=params, timeout=timeout)

    async def versions(self, name: str, *, locale: str | NotGiven = NOT_GIVEN,
                       timeout: Timeout = NOT_GIVEN) -> builtins.list[Template]:
        """Every version of a template, newest first."""
        params = strip_not_given({"locale": locale})
        path = _template_path(name, "/versions")
        return (await self._client.request(TemplateList, "GET", path, params=params, timeout=timeout)).items

    async def delete(self, name: str, *, locale: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> None:
        """Delete every version of a template in one locale."""
        params = strip_not_given({"locale": locale})
        await self._client.request(NoneType, "DELETE", _template_path(name), params=params, timeout=timeout)


class Notifications(_Base[SyncAPIClient]):
    """Send notifications (admins and service clients) and manage the signed-in user's inbox and preferences."""

    templates: NotificationTemplates

    def __init__(self, client: SyncAPIClient) -> None:
        super().__init__(client)
        self.templates = NotificationTemplates(client)

    def send(self, *, template: str, user_id: str | NotGiven = NOT_GIVEN,
             user_ids: builtins.list[str] | NotGiven = NOT_GIVEN, data: Mapping[str, Any] | NotGiven = NOT_GIVEN,
             channels: builtins.list[Channel] | NotGiven = NOT_GIVEN, locale: str | NotGiven = NOT_GIVEN,
             idempotency_key: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> SendResult:
        """Notify one user or several with a template. The same ``idempotency_key`` notifies each user once
        (one is generated when left out, so the SDK's own retries stay safe)."""
        body = _send_body(template, user_id, user_ids, data, channels, locale, idempotency_key)
        return self._client.request(SendResult, "POST", f"{_BASE}/", json=body, timeout=timeout, idempotent=True)

    def get(self, notification_id: str, *, timeout: Timeout = NOT_GIVEN) -> Notification:
        """A notification you sent, with each channel's status, attempts and last error."""
        return self._client.request(Notification, "GET", f"{_BASE}/{path_id(notification_id)}", timeout=timeout)

    def inbox(self, *, unread: bool | NotGiven = NOT_GIVEN, limit: int | NotGiven = NOT_GIVEN,
              cursor: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> SyncCursorPage[InboxItem]:
        """The inbox, newest first; iterate the page for every item."""
        params = strip_not_given({"unread": unread, "limit": limit, "cursor": cursor})
        return self._client.get_page(f"{_INBOX}/", InboxItem, params=params, timeout=timeout)

    def unread_count(self, *, timeout: Timeout = NOT_GIVEN) -> int:
        """How many inbox items are unread."""
        return self._client.request(UnreadCount, "GET", f"{_INBOX}/unread-count", timeout=timeout).unread

    def mark_read(self, item_id: str, *, timeout: Timeout = NOT_GIVEN) -> InboxItem:
        """Mark one inbox item read."""
        path = f"{_INBOX}/{path_id(item_id)}/read"
        return self._client.request(InboxItem, "POST", path, timeout=timeout, idempotent=True)

    def mark_all_read(self, *, timeout: Timeout = NOT_GIVEN) -> int:
        """Mark every inbox item read; returns how many changed."""
        path = f"{_INBOX}/read-all"
        return self._client.request(MarkedRead, "POST", path, timeout=timeout, idempotent=True).updated

    def preferences(self, *, timeout: Timeout = NOT_GIVEN) -> Preferences:
        """The signed-in user's channel preferences and contact points."""
        return self._client.request(Preferences, "GET", _PREFERENCES, timeout=timeout)

    def update_preferences(self, *, channels: Mapping[str, bool] | NotGiven = NOT_GIVEN,
                           categories: Mapping[str, Mapping[str, bool]] | NotGiven = NOT_GIVEN,
                           locale: str | NotGiven | None = NOT_GIVEN, phone: str | NotGiven | None = NOT_GIVEN,
                           timeout: Timeout = NOT_GIVEN) -> Preferences:
        """Change preferences (fields left out stay); ``phone`` in E.164, None removes it."""
        body = self._preferences_body(channels, categories, locale, phone)
        return self._client.request(Preferences, "PATCH", _PREFERENCES, json=body, timeout=timeout)

    def push_subscriptions(self, *, timeout: Timeout = NOT_GIVEN) -> builtins.list[PushSubscription]:
        """The signed-in user's Web Push subscriptions."""
        return self._client.request(PushSubscriptionList, "GET", _PUSH, timeout=timeout).items

    def subscribe_push(self, *, endpoint: str, p256dh: str, auth: str, user_agent: str | NotGiven = NOT_GIVEN,
                       timeout: Timeout = NOT_GIVEN) -> PushSubscription:
        """Register a browser's push subscription (``PushSubscription.toJSON()``: endpoint and keys)."""
        body = strip_not_given({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth},
                                "user_agent": user_agent})
        return self._client.request(PushSubscription, "POST", _PUSH, json=body, timeout=timeout, idempotent=True)

    def unsubscribe_push(self, subscription_id: str, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Forget a push subscription."""
        self._client.request(NoneType, "DELETE", f"{_PUSH}/{path_id(subscription_id)}", timeout=timeout)

    def vapid_public_key(self, *, timeout: Timeout = NOT_GIVEN) -> str | None:
        """The ``applicationServerKey`` for ``pushManager.subscribe`` (None when Web Push is off)."""
        return self._client.request(VapidKey, "GET", f"{_BASE}/vapid-public-key", timeout=timeout).public_key


class AsyncNotifications(_Base[AsyncAPIClient]):
    """Send notifications (admins and service clients) and manage the signed-in user's inbox and preferences."""

    templates: AsyncNotificationTemplates

    def __init__(self, client: AsyncAPIClient) -> None:
        super().__init__(client)
        self.templates = AsyncNotificationTemplates(client)

    async def send(self, *, template: str, user_id: str | NotGiven = NOT_GIVEN,
                   user_ids: builtins.list[str] | NotGiven = NOT_GIVEN,
                   data: Mapping[str, Any] | NotGiven = NOT_GIVEN,
                   channels: builtins.list[Channel] | NotGiven = NOT_GIVEN, locale: str | NotGiven = NOT_GIVEN,
                   idempotency_key: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> SendResult:
        """Notify one user or several with a template. The same ``idempotency_key`` notifies each user once
        (one is generated when left out, so the SDK's own retries stay safe)."""
        body = _send_body(template, user_id, user_ids, data, channels, locale, idempotency_key)
        return await self._client.request(SendResult, "POST", f"{_BASE}/", json=body, timeout=timeout,
                                          idempotent=True)

    async def get(self, notification_id: str, *, timeout: Timeout = NOT_GIVEN) -> Notification:
        """A notification you sent, with each channel's status, attempts and last error."""
        path = f"{_BASE}/{path_id(notification_id)}"
        return await self._client.request(Notification, "GET", path, timeout=timeout)

    def inbox(self, *, unread: bool | NotGiven = NOT_GIVEN, limit: int | NotGiven = NOT_GIVEN,
              cursor: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> AsyncPaginator[InboxItem]:
        """The inbox, newest first; ``async for`` over the result for every item."""
        params = strip_not_given({"unread": unread, "limit": limit, "cursor": cursor})
        return self._client.get_page(f"{_INBOX}/", InboxItem, params=params, timeout=timeout)

    async def unread_count(self, *, timeout: Timeout = NOT_GIVEN) -> int:
        """How many inbox items are unread."""
        return (await self._client.request(UnreadCount, "GET", f"{_INBOX}/unread-count", timeout=timeout)).unread

    async def mark_read(self, item_id: str, *, timeout: Timeout = NOT_GIVEN) -> InboxItem:
        """Mark one inbox item read."""
        path = f"{_INBOX}/{path_id(item_id)}/read"
        return await self._client.request(InboxItem, "POST", path, timeout=timeout, idempotent=True)

    async def mark_all_read(self, *, timeout: Timeout = NOT_GIVEN) -> int:
        """Mark every inbox item read; returns how many changed."""
        path = f"{_INBOX}/read-all"
        return (await self._client.request(MarkedRead, "POST", path, timeout=timeout, idempotent=True)).updated

    async def preferences(self, *, timeout: Timeout = NOT_GIVEN) -> Preferences:
        """The signed-in user's channel preferences and contact points."""
        return await self._client.request(Preferences, "GET", _PREFERENCES, timeout=timeout)

    async def update_preferences(self, *, channels: Mapping[str, bool] | NotGiven = NOT_GIVEN,
                                 categories: Mapping[str, Mapping[str, bool]] | NotGiven = NOT_GIVEN,
                                 locale: str | NotGiven | None = NOT_GIVEN,
                                 phone: str | NotGiven | None = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> Preferences:
        """Change preferences (fields left out stay); ``phone`` in E.164, None removes it."""
        body = self._preferences_body(channels, categories, locale, phone)
        return await self._client.request(Preferences, "PATCH", _PREFERENCES, json=body, timeout=timeout)

    async def push_subscriptions(self, *, timeout: Timeout = NOT_GIVEN) -> builtins.list[PushSubscription]:
        """The signed-in user's Web Push subscriptions."""
        return (await self._client.request(PushSubscriptionList, "GET", _PUSH, timeout=timeout)).items

    async def subscribe_push(self, *, endpoint: str, p256dh: str, auth: str,
                             user_agent: str | NotGiven = NOT_GIVEN, timeout: Timeout = NOT_GIVEN) -> PushSubscription:
        """Register a browser's push subscription (``PushSubscription.toJSON()``: endpoint and keys)."""
        body = strip_not_given({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth},
                                "user_agent": user_agent})
        return await self._client.request(PushSubscription, "POST", _PUSH, json=body, timeout=timeout,
                                          idempotent=True)

    async def unsubscribe_push(self, subscription_id: str, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Forget a push subscription."""
        await self._client.request(NoneType, "DELETE", f"{_PUSH}/{path_id(subscription_id)}", timeout=timeout)

    async def vapid_public_key(self, *, timeout: Timeout = NOT_GIVEN) -> str | None:
        """The ``applicationServerKey`` for ``pushManager.subscribe`` (None when Web Push is off)."""
        return (await self._client.request(VapidKey, "GET", f"{_BASE}/vapid-public-key", timeout=timeout)).public_key
