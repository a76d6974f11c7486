"""Notifications: templates, sends and their delivery status, preferences, push subscriptions, the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

Channel = Literal["email", "sms", "push", "inapp"]


class EmailContent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The email form of a template (Jinja sources)."""

    subject: str
    text: str
    html: str | None = None


class SmsContent(msgspec.Struct, frozen=True, kw_only=True):
    """The SMS form of a template."""

    text: str


class MessageContent(msgspec.Struct, frozen=True, kw_only=True):
    """The push or in-app form of a template."""

    title: str
    body: str


class TemplateChannels(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A template's content per channel; a channel left out is not sent for that template."""

    email: EmailContent | None = None
    sms: SmsContent | None = None
    push: MessageContent | None = None
    inapp: MessageContent | None = None


class Template(msgspec.Struct, frozen=True, kw_only=True):
    """One version of a notification template."""

    name: str
    locale: str
    version: int
    category: str
    description: str = ""
    channels: TemplateChannels
    created_at: datetime
    created_by: str | None = None


class TemplateList(msgspec.Struct, frozen=True, kw_only=True):
    """A list of templates."""

    items: list[Template]


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """Where one channel of a notification stands: `pending`, `sending`, `retrying`, `queued` (handed to the
    email or SMS service), `sent`, `delivered`, `skipped`, `failed` or `dead` (dead-lettered)."""

    channel: str
    status: str
    attempts: int
    last_error: str | None = None
    updated_at: datetime


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    """A notification to one user and the delivery status of each channel."""

    id: str
    user_id: str
    template: str
    template_version: int
    locale: str
    category: str
    created_at: datetime
    deliveries: list[Delivery]


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """The notifications one send created (one per recipient)."""

    notifications: list[Notification]


class Preferences(msgspec.Struct, frozen=True, kw_only=True):
    """A user's channel choices (a channel not named is on), per-category overrides and contact points."""

    channels: dict[str, bool] = msgspec.field(default_factory=dict)
    categories: dict[str, dict[str, bool]] = msgspec.field(default_factory=dict)
    locale: str | None = None
    phone: str | None = None
    email: str | None = None


class PushSubscription(msgspec.Struct, frozen=True, kw_only=True):
    """A stored Web Push subscription."""

    id: str
    endpoint: str
    created_at: datetime
    user_agent: str | None = None


class PushSubscriptionList(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in user's push subscriptions."""

    items: list[PushSubscription]


class InboxItem(msgspec.Struct, frozen=True, kw_only=True):
    """An in-app notification."""

    id: str
    notification_id: str
    title: str
    body: str
    category: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: datetime
    read_at: datetime | None = None


class UnreadCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many inbox items are unread."""

    unread: int


class MarkedRead(msgspec.Struct, frozen=True, kw_only=True):
    """How many items a mark-all-read changed."""

    updated: int


class VapidKey(msgspec.Struct, frozen=True, kw_only=True):
    """The VAPID public key (`applicationServerKey`), or None when Web Push is off."""

    public_key: str | None = None
