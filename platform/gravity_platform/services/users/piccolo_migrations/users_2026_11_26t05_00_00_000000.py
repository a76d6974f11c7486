"""Initial users schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "profiles, audit log, outbox"

SQL = """
CREATE TABLE profile (
    id uuid PRIMARY KEY,
    email varchar(320) NOT NULL,
    display_name varchar(200),
    roles varchar(64)[] NOT NULL DEFAULT '{user}',
    is_active boolean NOT NULL DEFAULT true,
    email_verified boolean NOT NULL DEFAULT false,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    org_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_email ON profile (lower(email));
CREATE INDEX profile_created ON profile (created_at, id);
CREATE INDEX profile_org ON profile (org_id) WHERE org_id IS NOT NULL;
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="users", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
