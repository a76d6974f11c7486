"""tus concatenation: partial uploads, and the final uploads made of them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.migrations import sql_step

ID = "2026-11-26T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tus concatenation: upload.partial, final_upload"

SQL = """
ALTER TABLE upload ADD COLUMN partial boolean NOT NULL DEFAULT false;
CREATE TABLE final_upload (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    parts text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX final_upload_expires ON final_upload (expires_at);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="files", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL))
    return manager
