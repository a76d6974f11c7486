"""Sessions: access tokens, refresh-token families with single-use rotation and reuse detection, revocation."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gravity_platform.kernel import audit
from gravity_platform.services.auth.oauth_errors import invalid_grant
from gravity_platform.services.auth.schemas import TokenResponse
from gravity_platform.services.auth.tables import DB, AuditLog, RefreshToken

if TYPE_CHECKING:
    from gravity_platform.services.auth.plugin import AuthService

_SUCCESSOR_AAD = b"gravity-refresh-successor"


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token (enough for random secrets; passwords use argon2)."""
    return hashlib.sha256(token.encode()).hexdigest()


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a token is for and what it may do."""

    user_id: str
    roles: list[str]
    scope: str | None = None
    client_id: str | None = None
    session_id: str | None = None


class Sessions:
    """Issues and rotates tokens for the auth service."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    async def access_token(self, grant: Grant, session_id: str) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        settings = self.service.settings
        now = int(time.time())
        # A subject denied up to the end of this second (e.g. its roles just changed) gets a token issued as of
        # the next second, so the new token is not caught by the denial meant for the old ones.
        issued = max(now, self.service.node.deny_list.subject_cutoff(grant.user_id))
        claims: dict[str, Any] = {
            "iss": self.service.node.settings.public_url, "aud": "gravity", "sub": grant.user_id,
            "iat": issued, "nbf": now, "exp": now + settings.access_token_ttl, "jti": secrets.token_urlsafe(16),
            "sid": session_id, "roles": grant.roles,
        }
        if grant.scope is not None:
            claims["scope"] = grant.scope
        if grant.client_id:
            claims["client_id"] = grant.client_id
        return await self.service.keys.sign(claims), settings.access_token_ttl

    async def start(self, grant: Grant, *, address: str | None, method: str) -> TokenResponse:
        """A new session (refresh-token family) and its first token pair; audited as a sign-in."""
        family_id = str(uuid.uuid4())
        refresh = await self._new_refresh(grant, family_id)
        access, ttl = await self.access_token(grant, family_id)
        await audit.record(AuditLog, "sign_in", actor=grant.user_id, target=grant.user_id, address=address,
                           method=method, session=family_id)
        return TokenResponse(access_token=access, expires_in=ttl, refresh_token=refresh, scope=grant.scope)

    async def _new_refresh(self, grant: Grant, family_id: str) -> str:
        token = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=self.service.settings.refresh_token_ttl)
        await RefreshToken.insert(RefreshToken(
            id=str(uuid.uuid4()), family_id=family_id, user_id=grant.user_id, token_hash=token_hash(token),
            status="active", scope=grant.scope, expires_at=expires,
        ))
        return token

    async def refresh(self, token: str, *, address: str | None) -> TokenResponse:
        """Rotate a refresh token. A reused one revokes its whole family, except the immediate predecessor
        presented again within the reuse interval, which gets the current pair."""
        async with DB.engine.transaction():
            row = await RefreshToken.select().where(RefreshToken.token_hash == token_hash(token)).first() \
                .lock_rows("UPDATE")
            if row is None or row["expires_at"] <= utcnow() or row["status"] == "revoked":
                raise invalid_grant("The refresh token is not valid")
            if row["status"] == "active":
                return await self._rotate(row)
            replay = await self._replay_within_interval(row)
            if replay is not None:
                return replay
        await self.revoke_family(str(row["family_id"]), actor=str(row["user_id"]), reason="refresh_token_reuse",
                                 address=address)
        raise invalid_grant("The refresh token was already used; the session has been revoked")

    async def _rotate(self, row: dict[str, Any]) -> TokenResponse:
        grant = await self.service.grant_for_user(str(row["user_id"]), scope=row["scope"])
        new_token = await self._new_refresh(grant, str(row["family_id"]))
        sealed = self.service.node.master_key.seal(new_token.encode(), _SUCCESSOR_AAD)
        await RefreshToken.update({RefreshToken.status: "used", RefreshToken.used_at: utcnow(),
                                   RefreshToken.successor_sealed: sealed}).where(RefreshToken.id == row["id"])
        access, ttl = await self.access_token(grant, str(row["family_id"]))
        return TokenResponse(access_token=access, expires_in=ttl, refresh_token=new_token, scope=grant.scope)

    async def _replay_within_interval(self, row: dict[str, Any]) -> TokenResponse | None:
        family_id = str(row["family_id"])
        window = timedelta(seconds=self.service.settings.refresh_reuse_interval)
        successor = await RefreshToken.select().where(
            (RefreshToken.family_id == family_id) & (RefreshToken.status == "active")).first()
        within = row["used_at"] is not None and utcnow() - row["used_at"] <= window
        if within and successor is not None and row["successor_sealed"]:
            current = self.service.node.master_key.open(row["successor_sealed"], _SUCCESSOR_AAD).decode()
            if token_hash(current) == successor["token_hash"]:
                grant = await self.service.grant_for_user(str(row["user_id"]), scope=row["scope"])
                access, ttl = await self.access_token(grant, family_id)
                return TokenResponse(access_token=access, expires_in=ttl, refresh_token=current, scope=grant.scope)
        return None

    async def revoke_family(self, family_id: str, *, actor: str | None, reason: str,
                            address: str | None = None) -> None:
        """End a session: its refresh tokens stop working and its access tokens are deny-listed."""
        await RefreshToken.update({RefreshToken.status: "revoked"}).where(
            (RefreshToken.family_id == family_id) & (RefreshToken.status != "revoked"))
        await self.service.node.deny("sid", family_id, self.service.settings.access_token_ttl + 5)
        await audit.record(AuditLog, "token_revoked", actor=actor, target=family_id, address=address, reason=reason)

    async def revoke_user(self, user_id: str, *, actor: str | None, reason: str) -> None:
        """End every session of a user and reject all their access tokens issued until now."""
        await RefreshToken.update({RefreshToken.status: "revoked"}).where(
            (RefreshToken.user_id == user_id) & (RefreshToken.status != "revoked"))
        ttl = self.service.settings.access_token_ttl + 5
        await self.service.node.deny("sub", user_id, ttl, cutoff=int(time.time()) + 1)
        await audit.record(AuditLog, "sessions_revoked", actor=actor, target=user_id, reason=reason)

    async def revoke_refresh_token(self, token: str, *, actor: str | None, address: str | None) -> bool:
        """RFC 7009 for a refresh token: revoke its family. False when it is not one of ours."""
        row = await RefreshToken.select(RefreshToken.family_id, RefreshToken.user_id).where(
            RefreshToken.token_hash == token_hash(token)).first()
        if row is None:
            return False
        await self.revoke_family(str(row["family_id"]), actor=actor or str(row["user_id"]), reason="revoked",
                                 address=address)
        return True
