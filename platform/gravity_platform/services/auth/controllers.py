"""The account API under /api/v1/auth."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.access import AUTHENTICATED, PUBLIC
from gravity_platform.kernel.routing import client_address, current_principal, service_of
from gravity_platform.services.auth.plugin import AuthService
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
AnyRequest = Request[Any, Any, Any]


def _auth(request: AnyRequest) -> AuthService:
    return service_of(request, AuthService)


class AccountController(Controller):
    """Registration, sign-out, email verification, passwords, MFA and API keys."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", opt={"permission": PUBLIC}, status_code=201)
    async def register(self, request: AnyRequest, data: JSONBody[RegisterRequest]) -> dict[str, Any]:
        """Create an account; sign-in works right away unless email verification is required."""
        auth = _auth(request)
        address = client_address(request)
        return await auth.accounts.register(data.email, data.password, data.display_name, address=address)

    @post("/logout", opt={"permission": AUTHENTICATED}, status_code=204)
    async def logout(self, request: AnyRequest) -> None:
        """End the bearer's session and reject this access token from now on, on every node."""
        auth = _auth(request)
        principal = current_principal(request)
        address = client_address(request)
        await auth.revoke_access_token(principal, actor=principal.subject, address=address)

    @post("/verify-email/request", opt={"permission": SELF}, status_code=202)
    async def request_verification(self, request: AnyRequest) -> None:
        """Send a verification link to the account's email."""
        auth = _auth(request)
        principal = current_principal(request)
        await auth.accounts.request_verification(principal.subject)

    @post("/verify-email", opt={"permission": PUBLIC}, status_code=204)
    async def verify_email(self, request: AnyRequest, data: JSONBody[TokenRequest]) -> None:
        """Confirm the email address with the emailed token."""
        auth = _auth(request)
        await auth.accounts.verify_email(data.token)

    @post("/password-reset/request", opt={"permission": PUBLIC}, status_code=202)
    async def request_reset(self, request: AnyRequest, data: JSONBody[EmailRequest]) -> None:
        """Send a reset link if the account exists (the answer is the same either way)."""
        auth = _auth(request)
        await auth.accounts.request_reset(data.email)

    @post("/password-reset", opt={"permission": PUBLIC}, status_code=204)
    async def reset_password(self, request: AnyRequest, data: JSONBody[PasswordResetRequest]) -> None:
        """Set a new password with the emailed token; every session of the account ends."""
        auth = _auth(request)
        address = client_address(request)
        await auth.accounts.reset_password(data.token, data.password, address=address)

    @post("/password", opt={"permission": SELF}, status_code=204)
    async def change_password(self, request: AnyRequest, data: JSONBody[PasswordChangeRequest]) -> None:
        """Change the password (the current one is required)."""
        auth = _auth(request)
        principal = current_principal(request)
        address = client_address(request)
        await auth.accounts.change_password(
            principal.subject, data.current_password, data.new_password, address=address
        )

    @post("/mfa/totp", opt={"permission": SELF}, status_code=201)
    async def enroll_totp(self, request: AnyRequest) -> TotpEnrollment:
        """Start TOTP enrolment; confirm with a code to turn it on."""
        auth = _auth(request)
        principal = current_principal(request)
        secret, uri = await auth.accounts.enroll_totp(principal.subject)
        return TotpEnrollment(secret=secret, otpauth_uri=uri)

    @post("/mfa/totp/confirm", opt={"permission": SELF}, status_code=204)
    async def confirm_totp(self, request: AnyRequest, data: JSONBody[OtpRequest]) -> None:
        """Turn TOTP on with a current code."""
        auth = _auth(request)
        principal = current_principal(request)
        await auth.accounts.set_totp(principal.subject, data.otp, enabled=True)

    @delete("/mfa/totp", opt={"permission": SELF}, status_code=204)
    async def disable_totp(self, request: AnyRequest, data: JSONBody[OtpRequest]) -> None:
        """Turn TOTP off with a current code."""
        auth = _auth(request)
        principal = current_principal(request)
        await auth.accounts.set_totp(principal.subject, data.otp, enabled=False)

    @post("/api-keys", opt={"permission": SELF}, status_code=201)
    async def create_api_key(self, request: AnyRequest, data: JSONBody[ApiKeyCreate]) -> ApiKeyCreated:
        """Create an API key for the client_credentials grant; its secret is shown only now."""
        auth = _auth(request)
        principal = current_principal(request)
        return await auth.apikeys.create(principal, data.name, data.scopes, data.expires_in)

    @get("/api-keys", opt={"permission": SELF})
    async def list_api_keys(
        self,
        request: AnyRequest,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> ApiKeyPage:
        """The caller's API keys (without secrets)."""
        auth = _auth(request)
        principal = current_principal(request)
        return await auth.apikeys.list(principal, cursor, limit)

    @delete("/api-keys/{key_id:uuid}", opt={"permission": SELF}, status_code=204)
    async def revoke_api_key(self, request: AnyRequest, key_id: FromPath[UUID]) -> None:
        """Revoke an API key; tokens issued with it stop working."""
        auth = _auth(request)
        principal = current_principal(request)
        await auth.apikeys.revoke(principal, str(key_id))
