"""Initial files schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "files, quota usage and reservations, tus uploads, garbage, audit log, outbox"

SQL = """
CREATE TABLE file (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    name varchar(255) NOT NULL,
    content_type varchar(255) NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 varchar(64) NOT NULL,
    storage_key varchar(255) NOT NULL UNIQUE,
    is_public boolean NOT NULL DEFAULT false,
    shared_users uuid[] NOT NULL DEFAULT '{}',
    shared_roles varchar(64)[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX file_owner ON file (owner_id, created_at, id);
CREATE TABLE usage (
    owner_id uuid PRIMARY KEY,
    used bigint NOT NULL DEFAULT 0 CHECK (used >= 0)
);
CREATE TABLE reservation (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    bytes bigint NOT NULL CHECK (bytes >= 0),
    expires_at timestamptz NOT NULL
);
CREATE INDEX reservation_owner ON reservation (owner_id, expires_at);
CREATE TABLE upload (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    name varchar(255) NOT NULL,
    content_type varchar(255),
    length bigint NOT NULL CHECK (length >= 0),
    "offset" bigint NOT NULL DEFAULT 0,
    storage_key varchar(255) NOT NULL,
    handle text NOT NULL,
    lease_until timestamptz,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_expires ON upload (expires_at);
CREATE TABLE garbage (
    storage_key varchar(255) PRIMARY KEY,
    collect_after timestamptz NOT NULL
);
CREATE INDEX garbage_due ON garbage (collect_after);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="files", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
