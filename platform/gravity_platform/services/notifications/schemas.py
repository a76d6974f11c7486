"""Wire models of the notifications service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Channel = Literal["email", "sms", "push", "inapp"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push", "inapp")
TemplateName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$(?!\n)")]
Locale = Annotated[str, msgspec.Meta(pattern=r"^([a-z]{2,3}([_-][A-Za-z0-9]{2,8})*)?$(?!\n)")]
Category = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$(?!\n)")]
Source = Annotated[str, msgspec.Meta(max_length=20_000)]
ShortSource = Annotated[str, msgspec.Meta(max_length=2_000)]


class EmailContent(msgspec.Struct, forbid_unknown_fields=True):
    """The email form of a template: Jinja sources of the subject, the text part and (optionally) the HTML part."""

    subject: ShortSource
    text: Source
    html: Source | None = None


class SmsContent(msgspec.Struct, forbid_unknown_fields=True):
    """The SMS form of a template."""

    text: ShortSource


class MessageContent(msgspec.Struct, forbid_unknown_fields=True):
    """The push or in-app form of a template."""

    title: ShortSource
    body: Source


class TemplateChannels(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A template's content per channel; a channel left out is not sent for this template."""

    email: EmailContent | None = None
    sms: SmsContent | None = None
    push: MessageContent | None = None
    inapp: MessageContent | None = None


class TemplateSave(msgspec.Struct, forbid_unknown_fields=True):
    """Create a template or add a new version of it."""

    channels: TemplateChannels
    locale: Locale = ""
    category: Category = "general"
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Template(msgspec.Struct):
    """One version of a template."""

    name: str
    locale: str
    version: int
    category: str
    description: str
    channels: TemplateChannels
    created_at: datetime
    created_by: str | None = None


class TemplateList(msgspec.Struct):
    """Templates (the latest version of each name and locale), or every version of one."""

    items: list[Template]


UserId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F-]{32,36}$(?!\n)")]


class SendRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Notify one user (`user_id`) or several (`user_ids`) with a template. The same `idempotency_key` from the
    same sender never notifies a user twice."""

    template: TemplateName
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    user_id: UserId | None = None
    user_ids: Annotated[list[UserId], msgspec.Meta(max_length=1000)] | None = None
    data: Annotated[dict[str, Any], msgspec.Meta(max_length=200)] = {}
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1)] | None = None
    locale: Locale | None = None


class Delivery(msgspec.Struct):
    """Where one channel of a notification stands."""

    channel: str
    status: str
    attempts: int
    last_error: str | None
    updated_at: datetime


class Notification(msgspec.Struct):
    """A notification and the delivery status of each of its channels."""

    id: str
    user_id: str
    template: str
    template_version: int
    locale: str
    category: str
    created_at: datetime
    deliveries: list[Delivery]


class SendResult(msgspec.Struct):
    """The notifications a send created (or had created before, for a repeated idempotency key)."""

    notifications: list[Notification]


class Preferences(msgspec.Struct):
    """A user's channel choices (a channel not named is on), per-category overrides and contact points."""

    channels: dict[str, bool]
    categories: dict[str, dict[str, bool]]
    locale: str | None
    phone: str | None
    email: str | None


class PreferencesUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Change preferences; fields left out stay as they are. `phone` is E.164 (null removes it)."""

    channels: dict[Channel, bool] | msgspec.UnsetType = msgspec.UNSET
    categories: Annotated[dict[Category, dict[Channel, bool]], msgspec.Meta(max_length=100)] | msgspec.UnsetType = (
        msgspec.UNSET)
    locale: Locale | msgspec.UnsetType | None = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType | None = msgspec.UNSET


Base64Url = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+=*$(?!\n)", max_length=200)]


class PushKeys(msgspec.Struct):
    """The browser's encryption keys of a subscription (`PushSubscription.toJSON().keys`)."""

    p256dh: Base64Url
    auth: Base64Url


class PushSubscriptionCreate(msgspec.Struct):
    """A browser's `PushSubscription.toJSON()` (extra fields such as `expirationTime` are ignored)."""

    endpoint: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$(?!\n)", max_length=2000)]
    keys: PushKeys
    user_agent: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class PushSubscription(msgspec.Struct):
    """A stored push subscription."""

    id: str
    endpoint: str
    created_at: datetime
    user_agent: str | None = None


class PushSubscriptionList(msgspec.Struct):
    """The caller's push subscriptions."""

    items: list[PushSubscription]


class VapidKey(msgspec.Struct):
    """The VAPID public key browsers pass to `pushManager.subscribe` as `applicationServerKey`."""

    public_key: str | None


class InboxItem(msgspec.Struct):
    """An in-app notification."""

    id: str
    notification_id: str
    title: str
    body: str
    category: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class InboxPage(msgspec.Struct):
    """One page of the inbox, newest first, and the cursor of the next."""

    items: list[InboxItem]
    next_cursor: str | None = None


class UnreadCount(msgspec.Struct):
    """How many inbox items are unread."""

    unread: int


class MarkedRead(msgspec.Struct):
    """How many items a mark-read call changed."""

    updated: int


class RenderRequest(msgspec.Struct):
    """`notifications.render` on the bus."""

    template: str
    channel: Channel
    data: dict[str, Any] = {}
    locale: str | None = None


class Rendered(msgspec.Struct):
    """A template rendered for one channel (`subject`/`html` only for email)."""

    text: str
    subject: str | None = None
    html: str | None = None
    title: str | None = None
