"""Initial auth schema."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from gravity_platform.kernel.audit import AUDIT_DDL
from gravity_platform.kernel.migrations import sql_step
from gravity_platform.kernel.outbox import OUTBOX_DDL

ID = "2026-11-26T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "credentials, refresh tokens, signing keys, API keys, account tokens, audit log, outbox"

SQL = """
CREATE TABLE credential (
    id uuid PRIMARY KEY,
    email varchar(320) NOT NULL UNIQUE,
    password_hash text NOT NULL,
    email_verified boolean NOT NULL DEFAULT false,
    mfa_secret text,
    mfa_enabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE refresh_token (
    id uuid PRIMARY KEY,
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES credential (id) ON DELETE CASCADE,
    token_hash varchar(64) NOT NULL UNIQUE,
    status varchar(16) NOT NULL DEFAULT 'active',
    scope text,
    replaced_by uuid,
    successor_sealed text,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    expires_at timestamptz NOT NULL
);
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_user ON refresh_token (user_id) WHERE status = 'active';
CREATE TABLE signing_key (
    kid varchar(64) PRIMARY KEY,
    alg varchar(16) NOT NULL,
    private_sealed text NOT NULL,
    public_jwk jsonb NOT NULL,
    status varchar(16) NOT NULL CHECK (status IN ('next', 'current', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at timestamptz
);
CREATE UNIQUE INDEX signing_key_one_current ON signing_key (status) WHERE status IN ('current', 'next');
CREATE TABLE api_key (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES credential (id) ON DELETE CASCADE,
    name varchar(200) NOT NULL,
    client_id varchar(64) NOT NULL UNIQUE,
    secret_hash varchar(64) NOT NULL,
    scopes varchar(100)[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_key_user ON api_key (user_id, created_at);
CREATE TABLE account_token (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES credential (id) ON DELETE CASCADE,
    kind varchar(32) NOT NULL,
    token_hash varchar(64) NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)
    manager.add_raw(sql_step(SQL, AUDIT_DDL, OUTBOX_DDL))
    return manager
