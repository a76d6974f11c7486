"""API keys: client credentials for programs — shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import ForbiddenError, NotFoundError, UnprocessableError
from gravity_platform.kernel.security import Principal
from gravity_platform.services.auth.oauth_errors import invalid_client
from gravity_platform.services.auth.schemas import ApiKey as ApiKeyOut
from gravity_platform.services.auth.schemas import ApiKeyCreated, ApiKeyPage, TokenResponse
from gravity_platform.services.auth.sessions import Grant, token_hash, utcnow
from gravity_platform.services.auth.tables import ApiKey, AuditLog

if TYPE_CHECKING:
    from gravity_platform.services.auth.plugin import AuthService


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The (client_id, client_secret) of an HTTP Basic header, if well-formed."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id else None


def _out(row: dict[str, Any]) -> ApiKeyOut:
    return ApiKeyOut(id=str(row["id"]), name=row["name"], scopes=list(row["scopes"]), client_id=row["client_id"],
                     created_at=row["created_at"], expires_at=row["expires_at"], last_used_at=row["last_used_at"])


class ApiKeys:
    """Creation, listing, revocation and the client_credentials grant."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    async def create(self, principal: Principal, name: str, scopes: list[str], expires_in: int | None) -> ApiKeyCreated:
        """A new key whose scopes are a subset of what its owner may do."""
        beyond = [s for s in scopes if not principal.can(s)]
        if beyond:
            raise ForbiddenError(f"You cannot grant scopes you do not hold: {', '.join(beyond)}")
        client_id = f"gk_{secrets.token_urlsafe(12)}"
        secret = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=expires_in) if expires_in else None
        key_id = str(uuid.uuid4())
        await ApiKey.insert(ApiKey(id=key_id, user_id=principal.subject, name=name, client_id=client_id,
                                   secret_hash=token_hash(secret), scopes=sorted(set(scopes)), expires_at=expires))
        await audit.record(AuditLog, "api_key_created", actor=principal.subject, target=key_id, scopes=scopes)
        row = await ApiKey.select().where(ApiKey.id == key_id).first()
        assert row is not None
        return ApiKeyCreated(id=key_id, name=name, scopes=list(row["scopes"]), client_id=client_id,
                             client_secret=secret, created_at=row["created_at"], expires_at=expires)

    async def list(self, principal: Principal, cursor: str | None, limit: int) -> ApiKeyPage:
        """The caller's live keys, newest first."""
        query = ApiKey.select().where((ApiKey.user_id == principal.subject) & ApiKey.revoked_at.is_null())
        if cursor:
            try:
                query = query.where(ApiKey.created_at < datetime.fromisoformat(cursor))
            except ValueError:
                raise UnprocessableError("The cursor is not valid") from None
        rows = await query.order_by(ApiKey.created_at, ascending=False).limit(limit + 1)
        items = [_out(r) for r in rows[:limit]]
        next_cursor = rows[limit - 1]["created_at"].isoformat() if len(rows) > limit else None
        return ApiKeyPage(items=items, next_cursor=next_cursor)

    async def revoke(self, principal: Principal, key_id: str) -> None:
        """Revoke one of the caller's keys (an admin may revoke anyone's); its tokens stop working."""
        row = await ApiKey.select().where((ApiKey.id == key_id) & ApiKey.revoked_at.is_null()).first()
        if row is None or (str(row["user_id"]) != principal.subject and not principal.is_admin):
            raise NotFoundError("No such API key")
        await ApiKey.update({ApiKey.revoked_at: utcnow()}).where(ApiKey.id == key_id)
        await self.service.node.deny("sid", f"key:{key_id}", self.service.settings.access_token_ttl + 5)
        await audit.record(AuditLog, "api_key_revoked", actor=principal.subject, target=key_id)

    async def grant(self, client_id: str, secret: str, scope: str | None, address: str) -> TokenResponse:
        """The client_credentials grant: an access token (no refresh token) limited to the key's scopes."""
        row = await ApiKey.select().where(ApiKey.client_id == client_id).first()
        valid = row is not None and hmac.compare_digest(row["secret_hash"], token_hash(secret))
        if row is None or not valid or row["revoked_at"] is not None or (
                row["expires_at"] is not None and row["expires_at"] <= utcnow()):
            await audit.record(AuditLog, "client_credentials", target=client_id, outcome="failure", address=address)
            raise invalid_client()
        requested = set(scope.split()) if scope else set(row["scopes"])
        if not requested <= set(row["scopes"]):
            from gravity_platform.services.auth.oauth_errors import OAuthError

            raise OAuthError("invalid_scope", "The requested scope exceeds the key's scopes")
        owner = await self.service.grant_for_user(str(row["user_id"]), scope=" ".join(sorted(requested)))
        grant = Grant(owner.user_id, owner.roles, owner.scope, client_id=client_id)
        await ApiKey.update({ApiKey.last_used_at: utcnow()}).where(ApiKey.id == row["id"])
        access, ttl = await self.service.sessions.access_token(grant, f"key:{row['id']}")
        await audit.record(AuditLog, "sign_in", actor=owner.user_id, target=str(row["id"]), address=address,
                           method="client_credentials")
        return TokenResponse(access_token=access, expires_in=ttl, scope=grant.scope)
