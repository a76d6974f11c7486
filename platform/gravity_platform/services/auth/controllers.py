"""The account API under /api/v1/auth."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.routing import AUTHENTICATED, PUBLIC, ClientAddress, CurrentPrincipal
from gravity_platform.services.auth.plugin import Auth
from gravity_platform.services.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    EmailRequest,
    OtpRequest,
    PasswordChangeRequest,
    PasswordResetRequest,
    RegisterRequest,
    TokenRequest,
    TotpEnrollment,
)

SELF = "auth:self"


class AccountController(Controller):
    """Registration, sign-out, email verification, passwords, MFA and API keys."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", opt={"permission": PUBLIC}, status_code=201)
    async def register(
        self, data: JSONBody[RegisterRequest], auth: Auth, client_address: ClientAddress
    ) -> dict[str, Any]:
        """Create an account; sign-in works right away unless email verification is required."""
        return await auth.accounts.register(data.email, data.password, data.display_name, address=client_address)

    @post("/logout", opt={"permission": AUTHENTICATED}, status_code=204)
    async def logout(self, principal: CurrentPrincipal, auth: Auth, client_address: ClientAddress) -> None:
        """End the bearer's session and reject this access token from now on, on every node."""
        await auth.revoke_access_token(principal, actor=principal.subject, address=client_address)

    @post("/verify-email/request", opt={"permission": SELF}, status_code=202)
    async def request_verification(self, principal: CurrentPrincipal, auth: Auth) -> None:
        """Send a verification link to the account's email."""
        await auth.accounts.request_verification(principal.subject)

    @post("/verify-email", opt={"permission": PUBLIC}, status_code=204)
    async def verify_email(self, data: JSONBody[TokenRequest], auth: Auth) -> None:
        """Confirm the email address with the emailed token."""
        await auth.accounts.verify_email(data.token)

    @post("/password-reset/request", opt={"permission": PUBLIC}, status_code=202)
    async def request_reset(self, data: JSONBody[EmailRequest], auth: Auth) -> None:
        """Send a reset link if the account exists (the answer is the same either way)."""
        await auth.accounts.request_reset(data.email)

    @post("/password-reset", opt={"permission": PUBLIC}, status_code=204)
    async def reset_password(
        self, data: JSONBody[PasswordResetRequest], auth: Auth, client_address: ClientAddress
    ) -> None:
        """Set a new password with the emailed token; every session of the account ends."""
        await auth.accounts.reset_password(data.token, data.password, address=client_address)

    @post("/password", opt={"permission": SELF}, status_code=204)
    async def change_password(
        self,
        data: JSONBody[PasswordChangeRequest],
        principal: CurrentPrincipal,
        auth: Auth,
        client_address: ClientAddress,
    ) -> None:
        """Change the password (the current one is required)."""
        await auth.accounts.change_password(
            principal.subject, data.current_password, data.new_password, address=client_address
        )

    @post("/mfa/totp", opt={"permission": SELF}, status_code=201)
    async def enroll_totp(self, principal: CurrentPrincipal, auth: Auth) -> TotpEnrollment:
        """Start TOTP enrolment; confirm with a code to turn it on."""
        secret, uri = await auth.accounts.enroll_totp(principal.subject)
        return TotpEnrollment(secret=secret, otpauth_uri=uri)

    @post("/mfa/totp/confirm", opt={"permission": SELF}, status_code=204)
    async def confirm_totp(self, data: JSONBody[OtpRequest], principal: CurrentPrincipal, auth: Auth) -> None:
        """Turn TOTP on with a current code."""
        await auth.accounts.set_totp(principal.subject, data.otp, enabled=True)

    @delete("/mfa/totp", opt={"permission": SELF}, status_code=204)
    async def disable_totp(self, data: JSONBody[OtpRequest], principal: CurrentPrincipal, auth: Auth) -> None:
        """Turn TOTP off with a current code."""
        await auth.accounts.set_totp(principal.subject, data.otp, enabled=False)

    @post("/api-keys", opt={"permission": SELF}, status_code=201)
    async def create_api_key(
        self, data: JSONBody[ApiKeyCreate], principal: CurrentPrincipal, auth: Auth
    ) -> ApiKeyCreated:
        """Create an API key for the client_credentials grant; its secret is shown only now."""
        return await auth.apikeys.create(principal, data.name, data.scopes, data.expires_in)

    @get("/api-keys", opt={"permission": SELF})
    async def list_api_keys(
        self,
        principal: CurrentPrincipal,
        auth: Auth,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> ApiKeyPage:
        """The caller's API keys (without secrets)."""
        return await auth.apikeys.list(principal, cursor, limit)

    @delete("/api-keys/{key_id:uuid}", opt={"permission": SELF}, status_code=204)
    async def revoke_api_key(self, key_id: FromPath[UUID], principal: CurrentPrincipal, auth: Auth) -> None:
        """Revoke an API key; tokens issued with it stop working."""
        await auth.apikeys.revoke(principal, str(key_id))
