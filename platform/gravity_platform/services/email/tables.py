"""The email service's tables (schema `email`)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Array, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("email")


class Message(Table, tablename="message", schema=DB.schema, db=DB.engine):
    """One email and its delivery state. `next_attempt_at` is both the retry schedule and the claim lease."""

    id = UUID(primary_key=True)
    idempotency_key = Varchar(length=200, null=True, default=None, unique=True)
    recipients = Array(base_column=Varchar(length=320))
    sender = Varchar(length=400, null=True, default=None)
    reply_to = Varchar(length=320, null=True, default=None)
    subject = Text()
    text = Text()
    html = Text(null=True, default=None)
    template = Varchar(length=200, null=True, default=None)
    metadata = JSONB(default={})
    headers = JSONB(default={})
    message_id = Varchar(length=400)
    status = Varchar(length=16, default="queued")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    error = Text(null=True, default=None)
    provider_id = Varchar(length=400, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (Message, AuditLog, Outbox)
