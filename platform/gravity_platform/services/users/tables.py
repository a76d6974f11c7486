"""The users service's tables (schema `users`)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Array, Boolean, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("users")


class Profile(Table, tablename="profile", schema=DB.schema, db=DB.engine):
    """A user's profile; `id` is the account ID the auth service issued. `org_id` leaves room for tenancy."""

    id = UUID(primary_key=True)
    email = Varchar(length=320, index=True)
    display_name = Varchar(length=200, null=True, default=None)
    roles = Array(base_column=Varchar(length=64))
    is_active = Boolean(default=True)
    email_verified = Boolean(default=False)
    metadata = JSONB(default={})
    org_id = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (Profile, AuditLog, Outbox)
