"""The files service's tables (schema `files`). Queries are plain parameterised SQL (see `services.py`)."""

from __future__ import annotations

from piccolo.columns import UUID, Array, BigInt, Boolean, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("files")


class File(Table, tablename="file", schema=DB.schema, db=DB.engine):
    """A stored file's metadata; its bytes live in the storage backend under `storage_key`."""

    id = UUID(primary_key=True)
    owner_id = UUID()
    name = Varchar(length=255)
    content_type = Varchar(length=255)
    size = BigInt()
    sha256 = Varchar(length=64)
    storage_key = Varchar(length=255)
    is_public = Boolean(default=False)
    shared_users = Array(base_column=UUID())
    shared_roles = Array(base_column=Varchar(length=64))
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Usage(Table, tablename="usage", schema=DB.schema, db=DB.engine):
    """Bytes each user keeps (committed files)."""

    owner_id = UUID(primary_key=True)
    used = BigInt(default=0)


class Reservation(Table, tablename="reservation", schema=DB.schema, db=DB.engine):
    """Quota held for an upload in progress (counted against the quota until it ends or expires)."""

    id = UUID(primary_key=True)
    owner_id = UUID()
    bytes = BigInt()
    expires_at = Timestamptz()


class Upload(Table, tablename="upload", schema=DB.schema, db=DB.engine):
    """A resumable (tus) upload in progress; its ID becomes the file's ID."""

    id = UUID(primary_key=True)
    owner_id = UUID()
    name = Varchar(length=255)
    content_type = Varchar(length=255, null=True)
    length = BigInt()
    offset = BigInt(default=0)
    storage_key = Varchar(length=255)
    handle = Text()
    lease_until = Timestamptz(null=True, default=None)
    expires_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())
    partial = Boolean(default=False)
    """A partial upload (tus concatenation): once complete it waits, as an object under `storage_key`, for a
    final upload to use it."""


class FinalUpload(Table, tablename="final_upload", schema=DB.schema, db=DB.engine):
    """A final upload (tus concatenation), kept until `expires_at` so HEAD can describe it and PATCH refuse it;
    its file has the same ID."""

    id = UUID(primary_key=True)
    owner_id = UUID()
    parts = Text()
    expires_at = Timestamptz()


class Garbage(Table, tablename="garbage", schema=DB.schema, db=DB.engine):
    """Storage keys whose bytes are to be deleted once `collect_after` passes (deleted files, abandoned writes)."""

    storage_key = Varchar(length=255, primary_key=True)
    collect_after = Timestamptz()


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (File, Usage, Reservation, Upload, FinalUpload, Garbage, AuditLog, Outbox)
