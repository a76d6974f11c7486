"""Initial email schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messages (the delivery queue), audit log, outbox"

SQL = """
CREATE TABLE message (
    id uuid PRIMARY KEY,
    idempotency_key varchar(200) UNIQUE,
    recipients varchar(320)[] NOT NULL,
    sender varchar(400),
    reply_to varchar(320),
    subject text NOT NULL,
    text text NOT NULL,
    html text,
    template varchar(200),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    message_id varchar(400) NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    error text,
    provider_id varchar(400),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX message_due ON message (next_attempt_at) WHERE status = 'queued';
CREATE INDEX message_created ON message (created_at);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="email", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
