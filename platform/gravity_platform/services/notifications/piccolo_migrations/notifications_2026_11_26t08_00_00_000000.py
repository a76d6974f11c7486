"""Initial notifications schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "templates, notifications, deliveries, preferences, push subscriptions, inbox, audit log, outbox"

SQL = """
CREATE TABLE template (
    id uuid PRIMARY KEY,
    name varchar(100) NOT NULL,
    locale varchar(35) NOT NULL DEFAULT '',
    version integer NOT NULL,
    category varchar(64) NOT NULL DEFAULT 'general',
    description varchar(500) NOT NULL DEFAULT '',
    channels jsonb NOT NULL,
    created_by varchar(128),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, locale, version)
);
CREATE TABLE notification (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    sender varchar(128) NOT NULL,
    idempotency_key varchar(200) NOT NULL,
    template varchar(100) NOT NULL,
    template_version integer NOT NULL,
    locale varchar(35) NOT NULL DEFAULT '',
    category varchar(64) NOT NULL DEFAULT 'general',
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sender, idempotency_key, user_id)
);
CREATE INDEX notification_user ON notification (user_id);
CREATE TABLE delivery (
    id uuid PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notification (id) ON DELETE CASCADE,
    channel varchar(16) NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    last_error varchar(1000),
    content jsonb NOT NULL DEFAULT '{}'::jsonb,
    external_id varchar(128),
    done_targets jsonb NOT NULL DEFAULT '[]'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (notification_id, channel)
);
CREATE INDEX delivery_external ON delivery (external_id) WHERE external_id IS NOT NULL;
CREATE TABLE preference (
    user_id uuid PRIMARY KEY,
    channels jsonb NOT NULL DEFAULT '{}'::jsonb,
    categories jsonb NOT NULL DEFAULT '{}'::jsonb,
    locale varchar(35),
    phone varchar(20),
    email varchar(320),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE push_subscription (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    endpoint varchar(2000) NOT NULL UNIQUE,
    keys jsonb NOT NULL,
    user_agent varchar(300),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_subscription_user ON push_subscription (user_id);
CREATE TABLE inbox_item (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    notification_id uuid NOT NULL,
    title varchar(500) NOT NULL,
    body varchar(5000) NOT NULL,
    category varchar(64) NOT NULL DEFAULT 'general',
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    is_read boolean NOT NULL DEFAULT false
);
CREATE INDEX inbox_item_user ON inbox_item (user_id, created_at DESC, id DESC);
CREATE INDEX inbox_item_unread ON inbox_item (user_id) WHERE NOT is_read;
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
