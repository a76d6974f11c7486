"""The auth service's tables (schema `auth`)."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Array, Boolean, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.audit import audit_table
from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.outbox import outbox_table

DB = ServiceDatabase("auth")


class Credential(Table, tablename="credential", schema=DB.schema, db=DB.engine):
    """How one account signs in. The account's profile lives in the users service under the same ID."""

    id = UUID(primary_key=True)
    email = Varchar(length=320, unique=True)
    password_hash = Text()
    email_verified = Boolean(default=False)
    mfa_secret = Text(null=True, default=None)
    mfa_enabled = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class RefreshToken(Table, tablename="refresh_token", schema=DB.schema, db=DB.engine):
    """One link of a refresh-token family (a session); only the hash of the token is kept."""

    id = UUID(primary_key=True)
    family_id = UUID()
    user_id = UUID()
    token_hash = Varchar(length=64, unique=True)
    status = Varchar(length=16, default="active")
    scope = Text(null=True, default=None)
    replaced_by = UUID(null=True, default=None)
    successor_sealed = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    used_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz()


class SigningKey(Table, tablename="signing_key", schema=DB.schema, db=DB.engine):
    """A JWT signing key; the private part is sealed with the platform master key."""

    kid = Varchar(length=64, primary_key=True)
    alg = Varchar(length=16)
    private_sealed = Text()
    public_jwk = JSONB()
    status = Varchar(length=16)
    created_at = Timestamptz(default=TimestamptzNow())
    activated_at = Timestamptz(null=True, default=None)
    retired_at = Timestamptz(null=True, default=None)


class ApiKey(Table, tablename="api_key", schema=DB.schema, db=DB.engine):
    """A program's credentials for the client_credentials grant; the secret is kept hashed."""

    id = UUID(primary_key=True)
    user_id = UUID()
    name = Varchar(length=200)
    client_id = Varchar(length=64, unique=True)
    secret_hash = Varchar(length=64)
    scopes = Array(base_column=Varchar(length=100))
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class AccountToken(Table, tablename="account_token", schema=DB.schema, db=DB.engine):
    """A single-use emailed token (email verification, password reset), kept hashed."""

    id = UUID(primary_key=True)
    user_id = UUID()
    kind = Varchar(length=32)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


AuditLog = audit_table(DB)
Outbox = outbox_table(DB)
TABLES = (Credential, RefreshToken, SigningKey, ApiKey, AccountToken, AuditLog, Outbox)
