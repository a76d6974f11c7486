"""The auth service plugin."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from litestar.types import ControllerRouterHandler

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import GravityError
from gravity_platform.kernel.node import JWKS_TOPIC
from gravity_platform.kernel.plugins import BusHandler, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.kernel.security import Principal
from gravity_platform.services.auth.settings import AuthSettings
from gravity_platform.services.auth.tables import DB, TABLES, AuditLog, RefreshToken

log = logging.getLogger("gravity.auth")


class AuthService(Service):
    """Accounts and tokens (port 8081)."""

    name = "auth"
    port = 8081
    description = "OAuth2/OIDC tokens, sign-in, sessions, MFA, API keys, signing keys"
    requires = ("users",)
    route_prefixes = ("/api/v1/auth", "/oauth2", "/.well-known")
    settings_model = AuthSettings
    database = DB
    migrations_module = "gravity_platform.services.auth.piccolo_migrations"
    tables = TABLES
    sealed_columns = (("signing_key", "private_sealed"), ("credential", "mfa_secret"),
                      ("refresh_token", "successor_sealed"))

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.auth.accounts import Accounts
        from gravity_platform.services.auth.apikeys import ApiKeys
        from gravity_platform.services.auth.sessions import Sessions
        from gravity_platform.services.auth.signin import SignIn

        self.settings = AuthSettings()
        self.sessions = Sessions(self)
        self.signin = SignIn(self)
        self.accounts = Accounts(self)
        self.apikeys = ApiKeys(self)

    def attach(self, node: Any) -> None:
        super().attach(node)
        from gravity_platform.services.auth.keys import KeyRing

        self.settings = node.settings.for_service(self.name, AuthSettings)
        self.keys = KeyRing(node.master_key, self.settings.algorithm)

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.auth.controllers import AccountController
        from gravity_platform.services.auth.oauth import OAuthController
        from gravity_platform.services.auth.oauth_errors import OAuthError, oauth_error_handler

        return [service_router(self, [OAuthController, AccountController],
                               exception_handlers={OAuthError: oauth_error_handler})]

    def bus_endpoints(self) -> dict[str, BusHandler]:
        return {"jwks": self._bus_jwks, "revoke_user": self._bus_revoke_user, "delete_user": self._bus_delete_user}

    async def start(self) -> None:
        try:
            await self.keys.ensure()
        except Exception as error:  # the node still starts; keys are created on first use once the DB is back
            log.error("could not load signing keys yet", extra={"error": repr(error)})

    async def _bus_jwks(self, _: bytes, __: dict[str, str]) -> bytes:
        return json.dumps(await self.keys.jwks()).encode()

    async def _bus_revoke_user(self, payload: bytes, _: dict[str, str]) -> bytes:
        request = json.loads(payload)
        await self.sessions.revoke_user(request["id"], actor=request.get("actor"), reason=request.get("reason", ""))
        return b"{}"

    async def _bus_delete_user(self, payload: bytes, _: dict[str, str]) -> bytes:
        request = json.loads(payload)
        await self.accounts.delete(request["id"], actor=request.get("actor"))
        return b"{}"

    async def call_users(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call the users service (in-process or over NATS)."""
        reply = await self.node.bus.request("users", endpoint, json.dumps(payload).encode())
        answer: dict[str, Any] = json.loads(reply)
        return answer

    async def grant_for_user(self, user_id: str, *, scope: str | None) -> Any:
        """The grant a user may have now: their roles, refused if deactivated; `scope` narrowed to them."""
        from gravity_platform.services.auth.sessions import Grant

        profile = await self.call_users("principal", {"id": user_id})
        if not profile.get("is_active", False):
            from gravity_platform.services.auth.oauth_errors import invalid_grant

            raise invalid_grant("The account is deactivated")
        return Grant(user_id=user_id, roles=list(profile.get("roles", [])), scope=scope)

    async def revoke_access_token(self, principal: Principal, *, actor: str | None, address: str | None) -> None:
        """Deny-list an access token until it expires and end its session."""
        ttl = max(1, principal.expires_at - int(time.time()) + 5)
        await self.node.deny("jti", principal.token_id, ttl)
        if principal.session_id and not principal.session_id.startswith("key:"):
            await self.sessions.revoke_family(principal.session_id, actor=actor, reason="logout", address=address)
        else:
            await audit.record(AuditLog, "token_revoked", actor=actor, target=principal.token_id, address=address)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 answer for an access or refresh token."""
        from gravity_platform.services.auth.sessions import token_hash, utcnow

        try:
            principal = await self.node.verifier.verify(token)
            denied = await self.node.deny_list.is_denied(principal.token_id, principal.session_id, principal.subject,
                                                         principal.issued_at)
        except GravityError:
            row = await RefreshToken.select().where(RefreshToken.token_hash == token_hash(token)).first()
            if row is None or row["status"] != "active" or row["expires_at"] <= utcnow():
                return {"active": False}
            return {"active": True, "token_type": "refresh_token", "sub": str(row["user_id"]),
                    "exp": int(row["expires_at"].timestamp()), "sid": str(row["family_id"])}
        if denied:
            return {"active": False}
        return {"active": True, "token_type": "access_token", "sub": principal.subject, "jti": principal.token_id,
                "exp": principal.expires_at, "iat": principal.issued_at, "sid": principal.session_id,
                "scope": " ".join(sorted(principal.scopes)) or None, "client_id": principal.client_id,
                "iss": self.node.settings.public_url, "aud": "gravity"}

    async def rotate_keys(self, actor: str | None) -> str:
        """Rotate the signing keys and tell every node."""
        kid = await self.keys.rotate()
        await audit.record(AuditLog, "signing_key_rotated", actor=actor, target=kid)
        await self.node.bus.broadcast(JWKS_TOPIC, b"rotated")
        self.node.verifier.jwks.invalidate()
        self.node.verifier.forget()
        return kid

