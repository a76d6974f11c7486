"""Signing in: passwords with throttling that cannot lock a user out from elsewhere, then the MFA step."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING

import pyotp
from valkey.exceptions import ValkeyError

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import ServiceUnavailableError
from gravity_platform.services.auth.oauth_errors import OAuthError, invalid_grant
from gravity_platform.services.auth.passwords import verify_password
from gravity_platform.services.auth.schemas import TokenResponse
from gravity_platform.services.auth.sessions import Grant
from gravity_platform.services.auth.tables import AuditLog, Credential

if TYPE_CHECKING:
    from gravity_platform.services.auth.plugin import AuthService

MFA_GRANT = "urn:gravity:params:oauth:grant-type:mfa-otp"
_TOTP_AAD = b"gravity-totp-secret"


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class SignIn:
    """The password and MFA grants."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    async def _throttle(self, email: str, address: str) -> None:
        events = self.service.node.event_log
        for key, limit in self._throttle_keys(email, address):
            count, retry_after = await events.count(key, self.service.settings.throttle_window)
            if count >= limit:
                raise OAuthError("too_many_attempts", "Too many failed sign-ins; try again later", status=429,
                                 headers={"Retry-After": str(retry_after)})

    def _throttle_keys(self, email: str, address: str) -> list[tuple[str, int]]:
        settings = self.service.settings
        return [(f"fail:acct:{_key(email, address)}", settings.throttle_account_address),
                (f"fail:addr:{address}", settings.throttle_address)]

    async def _failed(self, email: str, address: str, user_id: str | None) -> OAuthError:
        for key, _ in self._throttle_keys(email, address):
            await self.service.node.event_log.record(key, self.service.settings.throttle_window)
        await audit.record(AuditLog, "sign_in", actor=user_id, target=user_id or _key(email), outcome="failure",
                           address=address)
        return invalid_grant("The email or password is wrong")

    async def password(self, email: str, password: str, scope: str | None, address: str) -> TokenResponse:
        """The `password` grant: returns tokens, or asks for the MFA step."""
        email = email.strip().lower()
        await self._throttle(email, address)
        row = await Credential.select().where(Credential.email == email).first()
        if not await verify_password(row["password_hash"] if row else None, password) or row is None:
            raise await self._failed(email, address, str(row["id"]) if row else None)
        await self.service.node.event_log.clear(f"fail:acct:{_key(email, address)}")
        if self.service.settings.require_email_verification and not row["email_verified"]:
            raise invalid_grant("The email address is not verified yet")
        grant = await self.service.grant_for_user(str(row["id"]), scope=scope)
        if row["mfa_enabled"]:
            return await self._mfa_challenge(grant)
        return await self.service.sessions.start(grant, address=address, method="password")

    async def _mfa_challenge(self, grant: Grant) -> TokenResponse:
        token = secrets.token_urlsafe(32)
        payload = json.dumps({"user_id": grant.user_id, "scope": grant.scope})
        try:
            await self.service.node.valkey.set(f"mfa:{_key(token)}", payload, ex=self.service.settings.mfa_token_ttl)
        except (ValkeyError, OSError):
            raise ServiceUnavailableError("Multi-factor sign-in is unavailable right now") from None
        raise OAuthError("mfa_required", "A one-time code is required", mfa_token=token)

    async def mfa(self, mfa_token: str, otp: str, address: str) -> TokenResponse:
        """The MFA grant: the token from the password step plus a TOTP code (each code works once)."""
        valkey = self.service.node.valkey
        try:
            raw = await valkey.get(f"mfa:{_key(mfa_token)}")
        except (ValkeyError, OSError):
            raise ServiceUnavailableError("Multi-factor sign-in is unavailable right now") from None
        if raw is None:
            raise invalid_grant("The MFA token is not valid or has expired")
        pending = json.loads(raw)
        row = await Credential.select().where(Credential.id == pending["user_id"]).first()
        if row is None or not row["mfa_enabled"] or not self.verify_totp(row["mfa_secret"], otp):
            raise await self._failed(row["email"] if row else "", address, pending["user_id"])
        if not await valkey.set(f"totp-used:{row['id']}:{otp}", 1, ex=90, nx=True):
            raise invalid_grant("This code was already used")
        await valkey.delete(f"mfa:{_key(mfa_token)}")
        grant = await self.service.grant_for_user(str(row["id"]), scope=pending["scope"])
        return await self.service.sessions.start(grant, address=address, method="password+totp")

    def verify_totp(self, sealed_secret: str | None, otp: str) -> bool:
        """Whether `otp` is valid now (one step of clock drift allowed)."""
        if not sealed_secret:
            return False
        secret = self.service.node.master_key.open(sealed_secret, _TOTP_AAD).decode()
        return bool(pyotp.TOTP(secret).verify(otp, valid_window=1))

    def seal_totp(self, secret: str) -> str:
        """Encrypt a TOTP secret for storage."""
        return self.service.node.master_key.seal(secret.encode(), _TOTP_AAD)
