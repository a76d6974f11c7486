"""Accounts: registration, email verification, password reset and change, TOTP enrolment."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import pyotp

from gravity_platform.kernel import audit
from gravity_platform.kernel.db import CONNECTION_ERRORS
from gravity_platform.kernel.errors import ConflictError, GravityError, UnauthorizedError, UnprocessableError
from gravity_platform.kernel.outbox import add_event
from gravity_platform.services.auth.passwords import check_password, hash_password, verify_password
from gravity_platform.services.auth.sessions import token_hash, utcnow
from gravity_platform.services.auth.tables import DB, AccountToken, AuditLog, Credential, Outbox

if TYPE_CHECKING:
    from gravity_platform.services.auth.plugin import AuthService

log = logging.getLogger("gravity.auth")

VERIFY_EMAIL = "verify-email"
PASSWORD_RESET = "password-reset"  # noqa: S105


def token_mail(kind: str, link: str, ttl: int) -> tuple[str, str]:
    """Subject and text of an account email carrying `link`."""
    amount, unit = (round(ttl / 3600), "hour") if ttl >= 3600 else (max(1, round(ttl / 60)), "minute")
    expiry = f"The link works once and expires in {amount} {unit}{'s' if amount != 1 else ''}."
    if kind == VERIFY_EMAIL:
        return "Confirm your email address", (
            f"Please confirm your email address by opening this link:\n\n{link}\n\n{expiry}\n"
            "If you did not create an account, ignore this email.\n")
    return "Reset your password", (
        f"Someone asked to reset the password of your account. To choose a new one, open this link:\n\n{link}\n\n"
        f"{expiry}\nIf it was not you, ignore this email: your password stays as it is.\n")


class Accounts:
    """Account life-cycle operations of the auth service."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    def _check_password(self, password: str, email: str) -> None:
        settings = self.service.settings
        check_password(password, email=email, min_length=settings.password_min_length,
                       max_length=settings.password_max_length)

    async def register(self, email: str, password: str, display_name: str | None, *, address: str | None,
                       roles: list[str] | None = None, actor: str | None = None) -> dict[str, Any]:
        """Create an account and its profile; 409 if the email is taken. Returns the profile."""
        email = email.strip().lower()
        self._check_password(password, email)
        password_hash = await hash_password(password)
        user_id = str(uuid.uuid4())
        try:
            async with DB.engine.transaction():
                if await Credential.exists().where(Credential.email == email):
                    raise ConflictError("An account with this email already exists")
                await Credential.insert(Credential(id=user_id, email=email, password_hash=password_hash))
                await audit.record(AuditLog, "register", actor=actor or user_id, target=user_id, address=address,
                                   roles=roles or ["user"])
                await add_event(Outbox, "auth", "user_registered", {"user_id": user_id, "email": email})
                profile = await self.service.call_users("upsert_profile", {
                    "id": user_id, "email": email, "display_name": display_name, "roles": roles or ["user"],
                })
        except asyncpg.UniqueViolationError:
            raise ConflictError("An account with this email already exists") from None
        self.service.poke_outbox()
        return profile

    async def send_token(self, user_id: str, email: str, kind: str) -> None:
        """Create a single-use token and deliver its link: through a `gravity_auth_token_sender` plugin if one
        takes it, else through the email service (on any node); only when neither can, to the dev log."""
        token = secrets.token_urlsafe(32)
        token_id = str(uuid.uuid4())
        ttl = self.service.settings.account_token_ttl
        await AccountToken.insert(AccountToken(id=token_id, user_id=user_id, kind=kind, token_hash=token_hash(token),
                                               expires_at=utcnow() + timedelta(seconds=ttl)))
        link = f"{self.service.node.settings.public_url}/{kind}?token={token}"
        delivered = self.service.node.hooks.hook.gravity_auth_token_sender(kind=kind, email=email, token=token,
                                                                            link=link)
        if delivered or await self._email_token(kind, email, link, token_id, ttl):
            return
        if self.service.node.settings.environment == "dev":
            log.warning("no email sender reachable; dev link follows", extra={"kind": kind, "email": email,
                                                                                "link": link})
        else:
            log.error("no email sender reachable: an account email could not be sent", extra={"kind": kind})

    async def _email_token(self, kind: str, email: str, link: str, token_id: str, ttl: int) -> bool:
        """Queue the account email with the email service; False if no email service can take it."""
        subject, text = token_mail(kind, link, ttl)
        request = {"to": [email], "subject": subject, "text": text, "idempotency_key": f"auth:{kind}:{token_id}",
                   "metadata": {"source": "auth", "kind": kind}}
        try:
            await self.service.node.bus.request("email", "send", json.dumps(request).encode(), timeout=5.0)
        except GravityError as error:
            log.warning("the email service did not take an account email",
                        extra={"kind": kind, "error": error.detail, "status": error.status})
            return False
        except CONNECTION_ERRORS as error:
            log.warning("the email service could not queue an account email", extra={"kind": kind,
                                                                                     "error": repr(error)})
            return False
        return True

    async def consume_token(self, token: str, kind: str) -> str:
        """Mark a single-use token used and return its user ID; 422 if it is unknown, used or expired."""
        async with DB.engine.transaction():
            row = await AccountToken.select().where(
                (AccountToken.token_hash == token_hash(token)) & (AccountToken.kind == kind)).first().lock_rows()
            if row is None or row["used_at"] is not None or row["expires_at"] <= utcnow():
                raise UnprocessableError("The link is not valid or has expired")
            await AccountToken.update({AccountToken.used_at: utcnow()}).where(AccountToken.id == row["id"])
        return str(row["user_id"])

    async def request_verification(self, user_id: str) -> None:
        """Email a verification link to the account's address."""
        row = await Credential.select(Credential.email, Credential.email_verified).where(
            Credential.id == user_id).first()
        if row is not None and not row["email_verified"]:
            await self.send_token(user_id, row["email"], VERIFY_EMAIL)

    async def verify_email(self, token: str) -> None:
        """Mark the address verified (auth and the profile)."""
        user_id = await self.consume_token(token, VERIFY_EMAIL)
        await Credential.update({Credential.email_verified: True, Credential.updated_at: utcnow()}).where(
            Credential.id == user_id)
        await audit.record(AuditLog, "email_verified", actor=user_id, target=user_id)
        await self.service.call_users("set_email_verified", {"id": user_id, "email_verified": True})

    async def request_reset(self, email: str) -> None:
        """Email a reset link if the account exists (the answer never tells)."""
        row = await Credential.select(Credential.id).where(Credential.email == email.strip().lower()).first()
        if row is not None:
            await self.send_token(str(row["id"]), email.strip().lower(), PASSWORD_RESET)
            await audit.record(AuditLog, "password_reset_requested", target=str(row["id"]))

    async def reset_password(self, token: str, password: str, *, address: str | None) -> None:
        """Set a new password from a reset link and end every session of the account.

        The password is checked before the link is used up, so a refused password costs nothing."""
        pending = await AccountToken.select(AccountToken.user_id).where(
            (AccountToken.token_hash == token_hash(token)) & (AccountToken.kind == PASSWORD_RESET)).first()
        row = await Credential.select(Credential.email).where(
            Credential.id == pending["user_id"]).first() if pending else None
        self._check_password(password, row["email"] if row else "")
        user_id = await self.consume_token(token, PASSWORD_RESET)
        await self._set_password(user_id, password, actor=user_id, address=address, action="password_reset")

    async def change_password(self, user_id: str, current: str, new: str, *, address: str | None) -> None:
        """Change the password after checking the current one; other sessions end."""
        row = await Credential.select().where(Credential.id == user_id).first()
        if row is None or not await verify_password(row["password_hash"], current):
            raise UnauthorizedError("The current password is wrong")
        self._check_password(new, row["email"])
        await self._set_password(user_id, new, actor=user_id, address=address, action="password_changed")

    async def _set_password(self, user_id: str, password: str, *, actor: str, address: str | None,
                            action: str) -> None:
        password_hash = await hash_password(password)
        async with DB.engine.transaction():
            await Credential.update({Credential.password_hash: password_hash, Credential.updated_at: utcnow()}).where(
                Credential.id == user_id)
            await audit.record(AuditLog, action, actor=actor, target=user_id, address=address)
        await self.service.sessions.revoke_user(user_id, actor=actor, reason=action)

    async def enroll_totp(self, user_id: str) -> tuple[str, str]:
        """Start TOTP enrolment: a new secret, active once confirmed with a code."""
        row = await Credential.select(Credential.email, Credential.mfa_enabled).where(Credential.id == user_id).first()
        if row is None:
            raise UnauthorizedError()
        if row["mfa_enabled"]:
            raise ConflictError("TOTP is already enabled; disable it first")
        secret = pyotp.random_base32()
        await Credential.update({Credential.mfa_secret: self.service.signin.seal_totp(secret)}).where(
            Credential.id == user_id)
        uri = pyotp.TOTP(secret).provisioning_uri(name=row["email"], issuer_name="Gravity")
        return secret, uri

    async def set_totp(self, user_id: str, otp: str, *, enabled: bool) -> None:
        """Confirm (enable) or disable TOTP; either needs a valid current code."""
        row = await Credential.select().where(Credential.id == user_id).first()
        if row is None or not row["mfa_secret"] or row["mfa_enabled"] == enabled:
            raise ConflictError("TOTP is not in a state where this applies")
        if not self.service.signin.verify_totp(row["mfa_secret"], otp):
            raise UnprocessableError("The code is not valid")
        values: dict[Any, Any] = {Credential.mfa_enabled: enabled, Credential.updated_at: utcnow()}
        if not enabled:
            values[Credential.mfa_secret] = None
        await Credential.update(values).where(Credential.id == user_id)
        await audit.record(AuditLog, "mfa_enabled" if enabled else "mfa_disabled", actor=user_id, target=user_id)

    async def delete(self, user_id: str, *, actor: str | None) -> None:
        """Erase an account's credentials, sessions and keys (the users service erases the profile)."""
        await self.service.sessions.revoke_user(user_id, actor=actor, reason="account_deleted")
        await Credential.delete().where(Credential.id == user_id)
        await audit.record(AuditLog, "account_deleted", actor=actor, target=user_id)
