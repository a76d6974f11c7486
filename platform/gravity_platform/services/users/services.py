"""Users logic, free of HTTP: profiles, roles, activation, listing."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import NotFoundError, UnprocessableError
from gravity_platform.kernel.outbox import add_event
from gravity_platform.services.users.schemas import AdminUpdate, SelfUpdate, User, UserPage
from gravity_platform.services.users.tables import DB, AuditLog, Outbox, Profile

if TYPE_CHECKING:
    from gravity_platform.services.users.plugin import UsersService


def to_user(row: dict[str, Any]) -> User:
    """The API shape of a profile row."""
    metadata = row["metadata"]
    return User(id=str(row["id"]), email=row["email"], display_name=row["display_name"], roles=list(row["roles"]),
                is_active=row["is_active"], email_verified=row["email_verified"], created_at=row["created_at"],
                updated_at=row["updated_at"], metadata=json.loads(metadata) if isinstance(metadata, str) else metadata)


def encode_cursor(row: dict[str, Any]) -> str:
    """An opaque cursor after `row`."""
    raw = json.dumps([row["created_at"].isoformat(), str(row["id"])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position an opaque cursor stands for; 422 when it is not one of ours."""
    try:
        created, user_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(uuid.UUID(str(user_id)))
    except (ValueError, TypeError):
        raise UnprocessableError("The cursor is not valid") from None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Users:
    """Operations of the users service."""

    def __init__(self, service: UsersService) -> None:
        self.service = service

    async def get(self, user_id: str) -> User:
        """One user; 404 when unknown."""
        row = await Profile.select().where(Profile.id == user_id).first()
        if row is None:
            raise NotFoundError("No such user")
        return to_user(row)

    async def upsert(self, user_id: str, email: str, display_name: str | None, roles: list[str]) -> User:
        """Create a profile for a new account (idempotent by ID)."""
        if not await Profile.exists().where(Profile.id == user_id):
            await Profile.insert(Profile(id=user_id, email=email, display_name=display_name, roles=roles))
        return await self.get(user_id)

    async def list(self, q: str | None, cursor: str | None, limit: int) -> UserPage:
        """Users ordered by creation, optionally matching `q` in email or name."""
        query = Profile.select()
        if q:
            query = query.where(Profile.email.ilike(_like(q.lower())) | Profile.display_name.ilike(_like(q)))
        if cursor:
            created, after_id = decode_cursor(cursor)
            query = query.where((Profile.created_at > created) | (
                (Profile.created_at == created) & (Profile.id > after_id)))
        rows = await query.order_by(Profile.created_at, Profile.id).limit(limit + 1)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return UserPage(items=[to_user(r) for r in rows[:limit]], next_cursor=next_cursor)

    async def update(self, user_id: str, change: SelfUpdate, *, actor: str) -> User:
        """Apply a self or admin update; role and activation changes are audited and take effect at once."""
        before = await self.get(user_id)
        values: dict[Any, Any] = {}
        for field in msgspec.structs.fields(change):
            value = getattr(change, field.name)
            if value is not msgspec.UNSET:
                values[getattr(Profile, field.name)] = json.dumps(value) if field.name == "metadata" else value
        if not values:
            return before
        values[Profile.updated_at] = datetime.now(UTC)
        async with DB.engine.transaction():
            await Profile.update(values).where(Profile.id == user_id)
            if isinstance(change, AdminUpdate):
                await self._audit_admin_change(before, change, actor)
        await self._after_admin_change(before, change, actor)
        return await self.get(user_id)

    async def _audit_admin_change(self, before: User, change: AdminUpdate, actor: str) -> None:
        if change.roles is not msgspec.UNSET and sorted(change.roles) != sorted(before.roles):
            await audit.record(AuditLog, "roles_changed", actor=actor, target=before.id, before=before.roles,
                               after=change.roles)
            await add_event(Outbox, "users", "roles_changed", {"user_id": before.id, "roles": change.roles})
        if change.is_active is not msgspec.UNSET and change.is_active != before.is_active:
            action = "user_activated" if change.is_active else "user_deactivated"
            await audit.record(AuditLog, action, actor=actor, target=before.id)
            await add_event(Outbox, "users", action.removeprefix("user_"), {"user_id": before.id})

    async def _after_admin_change(self, before: User, change: SelfUpdate, actor: str) -> None:
        if not isinstance(change, AdminUpdate):
            return
        node = self.service.node
        ttl = self.service.access_token_ttl()
        if change.is_active is False and before.is_active:
            await self.service.call_auth("revoke_user", {"id": before.id, "actor": actor, "reason": "deactivated"})
        elif change.roles is not msgspec.UNSET and sorted(change.roles) != sorted(before.roles):
            await node.deny("sub", before.id, ttl, cutoff=int(time.time()))
        self.service.poke_outbox()

    async def delete(self, user_id: str, *, actor: str) -> None:
        """Erase a user: their account (sessions end) and their profile."""
        await self.get(user_id)
        await self.service.call_auth("delete_user", {"id": user_id, "actor": actor})
        async with DB.engine.transaction():
            await Profile.delete().where(Profile.id == user_id)
            await audit.record(AuditLog, "user_deleted", actor=actor, target=user_id)
            await add_event(Outbox, "users", "deleted", {"user_id": user_id})
        self.service.poke_outbox()
