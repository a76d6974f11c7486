"""Users logic, free of HTTP: profiles, roles, activation, listing."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import NotFoundError, UnprocessableError
from gravity_platform.kernel.outbox import add_event
from gravity_platform.services.users.cache import CHANGED_TOPIC, ProfileCache
from gravity_platform.services.users.schemas import AdminUpdate, SelfUpdate, User, UserPage
from gravity_platform.services.users.tables import DB, AuditLog, Outbox, Profile

if TYPE_CHECKING:
    from gravity_platform.services.users.plugin import UsersService

log = logging.getLogger("gravity.users")


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


_READ_PROFILE = ("SELECT id, email, display_name, roles, is_active, email_verified, created_at, updated_at, metadata"
                 ' FROM "users"."profile" WHERE id = $1')
"""One profile by ID, as plain parameterised SQL (a cache miss skips Piccolo's query building)."""


def cache_key(user_id: str) -> str:
    """The profile cache's key for a user ID (IDs arrive from tokens, paths and the bus)."""
    return user_id.lower()


class Users:
    """Operations of the users service.

    Profiles read by ID are served from a per-node cache of their encoded form (`ProfileCache`); every method
    here that writes a profile calls `changed` once the write is committed."""

    def __init__(self, service: UsersService) -> None:
        self.service = service
        self.cache = ProfileCache()

    async def get(self, user_id: str) -> User:
        """One user, read from the database; 404 when unknown."""
        try:
            key = uuid.UUID(user_id)
        except ValueError:
            raise NotFoundError("No such user") from None
        pool = DB.engine.pool
        if pool is None:  # not started (administrative use): Piccolo opens a connection itself
            row = await Profile.select().where(Profile.id == key).first()
        else:
            async with pool.acquire() as connection:
                row = await connection.fetchrow(_READ_PROFILE, key)
        if row is None:
            raise NotFoundError("No such user")
        return to_user(dict(row))

    async def get_encoded(self, user_id: str) -> bytes:
        """One user as its JSON document, from this node's cache when it holds it; 404 when unknown."""
        key = cache_key(user_id)
        if not self.service.node.bus.connected:  # other nodes' changes cannot reach this cache now
            return msgspec.json.encode(await self.get(key))
        body = self.cache.get(key)
        if body is None:
            generation = self.cache.generation
            body = msgspec.json.encode(await self.get(key))
            self.cache.put(key, body, generation)
        return body

    async def changed(self, user_id: str) -> None:
        """Forget the cached profile of `user_id` here at once and tell the other nodes to forget theirs."""
        key = cache_key(user_id)
        self.cache.invalidate(key)
        try:
            await self.service.node.bus.broadcast(CHANGED_TOPIC, key.encode())
        except Exception as error:  # the write is done; other nodes' entries still expire (ProfileCache.max_age)
            log.error("could not broadcast a profile change", extra={"user_id": key, "error": repr(error)})

    async def upsert(self, user_id: str, email: str, display_name: str | None, roles: list[str]) -> User:
        """Create a profile for a new account (idempotent by ID)."""
        if not await Profile.exists().where(Profile.id == user_id):
            try:
                await Profile.insert(Profile(id=user_id, email=email, display_name=display_name, roles=roles))
            finally:
                await self.changed(user_id)
        return await self.get(user_id)

    async def set_email_verified(self, user_id: str, verified: bool) -> None:
        """Record whether the account's email address is verified (told by the auth service)."""
        try:
            await Profile.update({Profile.email_verified: verified}).where(Profile.id == user_id)
        finally:
            await self.changed(user_id)

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
        try:
            async with DB.engine.transaction():
                await Profile.update(values).where(Profile.id == user_id)
                if isinstance(change, AdminUpdate):
                    await self._audit_admin_change(before, change, actor)
        finally:
            await self.changed(user_id)
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
            # Every token issued up to the end of this second goes; auth issues new ones as of the next second.
            await node.deny("sub", before.id, ttl, cutoff=int(time.time()) + 1)
        self.service.poke_outbox()

    async def delete(self, user_id: str, *, actor: str) -> None:
        """Erase a user: their account (sessions end) and their profile."""
        await self.get(user_id)
        await self.service.call_auth("delete_user", {"id": user_id, "actor": actor})
        try:
            async with DB.engine.transaction():
                await Profile.delete().where(Profile.id == user_id)
                await audit.record(AuditLog, "user_deleted", actor=actor, target=user_id)
                await add_event(Outbox, "users", "deleted", {"user_id": user_id})
        finally:
            await self.changed(user_id)
        self.service.poke_outbox()
