"""The sms service's tables (schema `sms`)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("sms")


class Message(Table, tablename="message", schema=DB.schema, db=DB.engine):
    """One text message and its delivery state: queued -> sent -> delivered, or failed.

    `next_attempt_at` is when a worker may (re)try it; a worker claims a message by pushing it forward by a lease,
    so a claimed message is invisible to other workers until the lease runs out. `provider` is the provider of
    the node that queued or last claimed it."""

    id = UUID(primary_key=True)
    idempotency_key = Varchar(length=200, null=True, default=None, unique=True)
    recipient = Varchar(length=20)
    body = Text()
    metadata = JSONB(default={})
    status = Varchar(length=16, default="queued")
    attempts = Integer(default=0)
    error = Text(null=True, default=None)
    provider = Varchar(length=64, null=True, default=None)
    provider_message_id = Varchar(length=128, null=True, default=None)
    requested_by = Varchar(length=128, null=True, default=None)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)


class DevOutbox(Table, tablename="dev_outbox", schema=DB.schema, db=DB.engine):
    """What the dev "outbox" provider was asked to send (read with `gravity dev sms`)."""

    id = UUID(primary_key=True)
    message_id = UUID(null=True, default=None)
    recipient = Varchar(length=20)
    sender = Varchar(length=20, null=True, default=None)
    body = Text()
    status_callback = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (Message, DevOutbox, AuditLog, Outbox)
