"""The notifications service's tables (schema `notifications`)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Boolean, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("notifications")


class Template(Table, tablename="template", schema=DB.schema, db=DB.engine):
    """One version of a template: (name, locale, version) is unique; each save adds a version."""

    id = UUID(primary_key=True)
    name = Varchar(length=100)
    locale = Varchar(length=35, default="")
    version = Integer()
    category = Varchar(length=64, default="general")
    description = Varchar(length=500, default="")
    channels = JSONB(default={})
    created_by = Varchar(length=128, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Notification(Table, tablename="notification", schema=DB.schema, db=DB.engine):
    """One notification for one user, from one send request."""

    id = UUID(primary_key=True)
    user_id = UUID()
    sender = Varchar(length=128)
    idempotency_key = Varchar(length=200)
    template = Varchar(length=100)
    template_version = Integer()
    locale = Varchar(length=35, default="")
    category = Varchar(length=64, default="general")
    data = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow())


class Delivery(Table, tablename="delivery", schema=DB.schema, db=DB.engine):
    """The delivery of one notification on one channel: its rendered content, status and attempts."""

    id = UUID(primary_key=True)
    notification_id = UUID()
    channel = Varchar(length=16)
    status = Varchar(length=16, default="pending")
    attempts = Integer(default=0)
    last_error = Varchar(length=1000, null=True, default=None)
    content = JSONB(default={})
    external_id = Varchar(length=128, null=True, default=None)
    done_targets = JSONB(default=[])
    updated_at = Timestamptz(default=TimestamptzNow())


class Preference(Table, tablename="preference", schema=DB.schema, db=DB.engine):
    """A user's channel choices and contact points (the email comes from their account)."""

    user_id = UUID(primary_key=True)
    channels = JSONB(default={})
    categories = JSONB(default={})
    locale = Varchar(length=35, null=True, default=None)
    phone = Varchar(length=20, null=True, default=None)
    email = Varchar(length=320, null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class PushSubscription(Table, tablename="push_subscription", schema=DB.schema, db=DB.engine):
    """A browser's Web Push subscription (or another provider's device registration)."""

    id = UUID(primary_key=True)
    user_id = UUID()
    endpoint = Varchar(length=2000)
    keys = JSONB(default={})
    user_agent = Varchar(length=300, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class InboxItem(Table, tablename="inbox_item", schema=DB.schema, db=DB.engine):
    """An in-app notification; its ID is the in-app delivery's, so a redelivered job cannot add it twice."""

    id = UUID(primary_key=True)
    user_id = UUID()
    notification_id = UUID()
    title = Varchar(length=500)
    body = Varchar(length=5000)
    category = Varchar(length=64, default="general")
    data = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)
    is_read = Boolean(default=False)


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (Template, Notification, Delivery, Preference, PushSubscription, InboxItem, AuditLog, Outbox)
