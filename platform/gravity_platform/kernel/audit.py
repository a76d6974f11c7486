"""The audit log: an append-only record of every sensitive action, kept in each service's own schema."""

from __future__ import annotations

import json
import uuid
from typing import Any

from piccolo.columns import JSONB, UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.db import ServiceDatabase
from gravity_platform.kernel.observability import current_request_id

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor varchar(128),
    action varchar(64) NOT NULL,
    target varchar(128),
    outcome varchar(16) NOT NULL DEFAULT 'success',
    address varchar(64),
    request_id varchar(128),
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, at);
"""
"""SQL for a service's first migration."""


def audit_table(database: ServiceDatabase) -> type[Table]:
    """The audit table class bound to one service's schema and engine."""

    class AuditLog(Table, tablename="audit_log", schema=database.schema, db=database.engine):
        id = UUID(primary_key=True)
        at = Timestamptz(default=TimestamptzNow())
        actor = Varchar(length=128, null=True)
        action = Varchar(length=64)
        target = Varchar(length=128, null=True)
        outcome = Varchar(length=16, default="success")
        address = Varchar(length=64, null=True)
        request_id = Varchar(length=128, null=True)
        details = JSONB(default={})

    return AuditLog


async def record(table: type[Table], action: str, *, actor: str | None = None, target: str | None = None,
                 outcome: str = "success", address: str | None = None, **details: Any) -> None:
    """Append one audit record (inside the caller's transaction when there is one)."""
    await table.insert(table(
        id=str(uuid.uuid4()), actor=actor, action=action, target=target, outcome=outcome, address=address,
        request_id=current_request_id(), details=json.dumps(details, default=str),
    )).run()
