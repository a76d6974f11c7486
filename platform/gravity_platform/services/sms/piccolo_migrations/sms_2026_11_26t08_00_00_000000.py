"""Initial sms schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messages, dev outbox, audit log, outbox"

SQL = """
CREATE TABLE message (
    id uuid PRIMARY KEY,
    idempotency_key varchar(200) UNIQUE,
    recipient varchar(20) NOT NULL,
    body text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    status varchar(16) NOT NULL DEFAULT 'queued',
    attempts integer NOT NULL DEFAULT 0,
    error text,
    provider varchar(64),
    provider_message_id varchar(128),
    requested_by varchar(128),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    delivered_at timestamptz
);
CREATE INDEX message_due ON message (next_attempt_at) WHERE status = 'queued';
CREATE UNIQUE INDEX message_provider_id ON message (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX message_created ON message (created_at);
CREATE TABLE dev_outbox (
    id uuid PRIMARY KEY,
    message_id uuid,
    recipient varchar(20) NOT NULL,
    sender varchar(20),
    body text NOT NULL,
    status_callback text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dev_outbox_created ON dev_outbox (created_at);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sms", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
