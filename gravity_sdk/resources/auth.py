"""``client.auth``: sign-in (OAuth2 token endpoint), sessions, email, passwords and MFA."""

from __future__ import annotations

import contextlib
from types import NoneType

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._constants import MFA_OTP_GRANT, REVOKE_PATH, TOKEN_PATH
from .._exceptions import AuthenticationError
from .._resource import APIResource, ClientT
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes
from ..types.auth import TokenResponse, TotpEnrollment
from ..types.user import User, UserInfo
from .api_keys import ApiKeys, AsyncApiKeys

__all__ = ["ApiKeys", "AsyncApiKeys", "AsyncAuth", "Auth"]

_AUTH = "/api/v1/auth"
_TOTP = f"{_AUTH}/mfa/totp"
_Timeout = TimeoutTypes | NotGiven
_OptionalStr = str | NotGiven | None


class _AuthBase(APIResource[ClientT]):
    @staticmethod
    def _register_body(email: str, password: str, display_name: _OptionalStr) -> dict[str, object]:
        body: dict[str, object] = {"email": email, "password": password}
        if isinstance(display_name, str):
            body["display_name"] = display_name
        return body

    @staticmethod
    def _grant(grant_type: str, scope: _OptionalStr = NOT_GIVEN, **fields: str) -> dict[str, str]:
        form = {"grant_type": grant_type, **fields}
        if isinstance(scope, str):
            form["scope"] = scope
        return form

    @staticmethod
    def _revoke_form(refresh_token: str) -> dict[str, str]:
        return {"token": refresh_token, "token_type_hint": "refresh_token"}

    def _has_session(self) -> bool:
        tokens = self._client.tokens
        return tokens.access_token is not None or tokens.refresh_token is not None

    def _save(self, response: TokenResponse) -> TokenResponse:
        self._client._token_store.save_response(response)
        return response


class Auth(_AuthBase[SyncAPIClient]):
    """Accounts and sessions. Sign-in methods store the tokens on the client."""

    api_keys: ApiKeys

    def __init__(self, client: SyncAPIClient) -> None:
        super().__init__(client)
        self.api_keys = ApiKeys(client)

    def register(
        self, *, email: str, password: str, display_name: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> User:
        """Create an account. Raises ``ConflictError`` if the email is taken. Does not sign in."""
        body = self._register_body(email, password, display_name)
        path = f"{_AUTH}/register"
        return self._client.request(User, "POST", path, json=body, authenticated=False, timeout=timeout)

    def login(
        self, *, email: str, password: str, scope: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> TokenResponse:
        """Sign in with a password (``grant_type=password``) and keep the tokens.

        Raises ``MFARequiredError`` (with ``mfa_token``) if the account has MFA: finish with
        ``complete_mfa()``.
        """
        form = self._grant("password", scope, username=email, password=password)
        response = self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False, timeout=timeout
        )
        return self._save(response)

    def complete_mfa(self, mfa_token: str, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> TokenResponse:
        """Finish a sign-in that raised ``MFARequiredError`` with a one-time code, and keep the tokens."""
        form = self._grant(MFA_OTP_GRANT, mfa_token=mfa_token, otp=otp)
        response = self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False, timeout=timeout
        )
        return self._save(response)

    def login_with_client_credentials(
        self, *, client_id: str, client_secret: str, scope: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> TokenResponse:
        """Sign in with an API key (``grant_type=client_credentials``); there is no refresh token."""
        form = self._grant("client_credentials", scope)
        response = self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False,
            basic_auth=(client_id, client_secret), timeout=timeout,
        )  # fmt: skip
        return self._save(response)

    def refresh(self, *, timeout: _Timeout = NOT_GIVEN) -> TokenResponse:
        """Exchange the refresh token for new tokens now (the client also does this by itself)."""
        return self._client._refresher.refresh(timeout)

    def logout(self, *, timeout: _Timeout = NOT_GIVEN) -> None:
        """End the session on the server, revoke the refresh token and forget the tokens.

        The tokens are forgotten even if the server cannot be reached.
        """
        try:
            if self._has_session():
                with contextlib.suppress(AuthenticationError):
                    self._client.request(NoneType, "POST", f"{_AUTH}/logout", timeout=timeout)
        finally:
            try:
                if (refresh_token := self._client.tokens.refresh_token) is not None:
                    form = self._revoke_form(refresh_token)
                    self._client.request(
                        NoneType, "POST", REVOKE_PATH, form=form, authenticated=False, idempotent=True, timeout=timeout
                    )
            finally:
                self._client._token_store.clear()

    def userinfo(self, *, timeout: _Timeout = NOT_GIVEN) -> UserInfo:
        """OpenID Connect claims of the signed-in user."""
        return self._client.request(UserInfo, "GET", "/oauth2/userinfo", timeout=timeout)

    def request_email_verification(self, *, timeout: _Timeout = NOT_GIVEN) -> None:
        """Send the signed-in user a new email verification link."""
        self._client.request(NoneType, "POST", f"{_AUTH}/verify-email/request", timeout=timeout)

    def verify_email(self, *, token: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Confirm an email address with the token from the verification link."""
        self._client.request(
            NoneType, "POST", f"{_AUTH}/verify-email", json={"token": token}, authenticated=False, timeout=timeout
        )

    def request_password_reset(self, *, email: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Email a password reset link (the server answers the same whether the account exists or not)."""
        self._client.request(
            NoneType, "POST", f"{_AUTH}/password-reset/request", json={"email": email}, authenticated=False,
            timeout=timeout,
        )  # fmt: skip

    def reset_password(self, *, token: str, password: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Set a new password with the token from a reset link."""
        body = {"token": token, "password": password}
        self._client.request(
            NoneType, "POST", f"{_AUTH}/password-reset", json=body, authenticated=False, timeout=timeout
        )

    def change_password(self, *, current_password: str, new_password: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Change the signed-in user's password."""
        body = {"current_password": current_password, "new_password": new_password}
        self._client.request(NoneType, "POST", f"{_AUTH}/password", json=body, timeout=timeout)

    def mfa_enroll_totp(self, *, timeout: _Timeout = NOT_GIVEN) -> TotpEnrollment:
        """Start TOTP enrolment; MFA is on once ``mfa_confirm_totp()`` accepts a code."""
        return self._client.request(TotpEnrollment, "POST", _TOTP, timeout=timeout)

    def mfa_confirm_totp(self, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Turn TOTP on with a code from the authenticator app."""
        self._client.request(NoneType, "POST", f"{_TOTP}/confirm", json={"otp": otp}, timeout=timeout)

    def mfa_disable_totp(self, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Turn TOTP off; needs a current code."""
        self._client.request(NoneType, "DELETE", _TOTP, json={"otp": otp}, timeout=timeout)


class AsyncAuth(_AuthBase[AsyncAPIClient]):
    """Accounts and sessions. Sign-in methods store the tokens on the client."""

    api_keys: AsyncApiKeys

    def __init__(self, client: AsyncAPIClient) -> None:
        super().__init__(client)
        self.api_keys = AsyncApiKeys(client)

    async def register(
        self, *, email: str, password: str, display_name: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> User:
        """Create an account. Raises ``ConflictError`` if the email is taken. Does not sign in."""
        body = self._register_body(email, password, display_name)
        path = f"{_AUTH}/register"
        return await self._client.request(User, "POST", path, json=body, authenticated=False, timeout=timeout)

    async def login(
        self, *, email: str, password: str, scope: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> TokenResponse:
        """Sign in with a password (``grant_type=password``) and keep the tokens.

        Raises ``MFARequiredError`` (with ``mfa_token``) if the account has MFA: finish with
        ``complete_mfa()``.
        """
        form = self._grant("password", scope, username=email, password=password)
        response = await self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False, timeout=timeout
        )
        return self._save(response)

    async def complete_mfa(self, mfa_token: str, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> TokenResponse:
        """Finish a sign-in that raised ``MFARequiredError`` with a one-time code, and keep the tokens."""
        form = self._grant(MFA_OTP_GRANT, mfa_token=mfa_token, otp=otp)
        response = await self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False, timeout=timeout
        )
        return self._save(response)

    async def login_with_client_credentials(
        self, *, client_id: str, client_secret: str, scope: _OptionalStr = NOT_GIVEN, timeout: _Timeout = NOT_GIVEN
    ) -> TokenResponse:
        """Sign in with an API key (``grant_type=client_credentials``); there is no refresh token."""
        form = self._grant("client_credentials", scope)
        response = await self._client.request(
            TokenResponse, "POST", TOKEN_PATH, form=form, authenticated=False,
            basic_auth=(client_id, client_secret), timeout=timeout,
        )  # fmt: skip
        return self._save(response)

    async def refresh(self, *, timeout: _Timeout = NOT_GIVEN) -> TokenResponse:
        """Exchange the refresh token for new tokens now (the client also does this by itself)."""
        return await self._client._refresher.refresh(timeout)

    async def logout(self, *, timeout: _Timeout = NOT_GIVEN) -> None:
        """End the session on the server, revoke the refresh token and forget the tokens.

        The tokens are forgotten even if the server cannot be reached.
        """
        try:
            if self._has_session():
                with contextlib.suppress(AuthenticationError):
                    await self._client.request(NoneType, "POST", f"{_AUTH}/logout", timeout=timeout)
        finally:
            try:
                if (refresh_token := self._client.tokens.refresh_token) is not None:
                    form = self._revoke_form(refresh_token)
                    await self._client.request(
                        NoneType, "POST", REVOKE_PATH, form=form, authenticated=False, idempotent=True, timeout=timeout
                    )
            finally:
                self._client._token_store.clear()

    async def userinfo(self, *, timeout: _Timeout = NOT_GIVEN) -> UserInfo:
        """OpenID Connect claims of the signed-in user."""
        return await self._client.request(UserInfo, "GET", "/oauth2/userinfo", timeout=timeout)

    async def request_email_verification(self, *, timeout: _Timeout = NOT_GIVEN) -> None:
        """Send the signed-in user a new email verification link."""
        await self._client.request(NoneType, "POST", f"{_AUTH}/verify-email/request", timeout=timeout)

    async def verify_email(self, *, token: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Confirm an email address with the token from the verification link."""
        await self._client.request(
            NoneType, "POST", f"{_AUTH}/verify-email", json={"token": token}, authenticated=False, timeout=timeout
        )

    async def request_password_reset(self, *, email: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Email a password reset link (the server answers the same whether the account exists or not)."""
        await self._client.request(
            NoneType, "POST", f"{_AUTH}/password-reset/request", json={"email": email}, authenticated=False,
            timeout=timeout,
        )  # fmt: skip

    async def reset_password(self, *, token: str, password: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Set a new password with the token from a reset link."""
        body = {"token": token, "password": password}
        await self._client.request(
            NoneType, "POST", f"{_AUTH}/password-reset", json=body, authenticated=False, timeout=timeout
        )

    async def change_password(self, *, current_password: str, new_password: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Change the signed-in user's password."""
        body = {"current_password": current_password, "new_password": new_password}
        await self._client.request(NoneType, "POST", f"{_AUTH}/password", json=body, timeout=timeout)

    async def mfa_enroll_totp(self, *, timeout: _Timeout = NOT_GIVEN) -> TotpEnrollment:
        """Start TOTP enrolment; MFA is on once ``mfa_confirm_totp()`` accepts a code."""
        return await self._client.request(TotpEnrollment, "POST", _TOTP, timeout=timeout)

    async def mfa_confirm_totp(self, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Turn TOTP on with a code from the authenticator app."""
        await self._client.request(NoneType, "POST", f"{_TOTP}/confirm", json={"otp": otp}, timeout=timeout)

    async def mfa_disable_totp(self, *, otp: str, timeout: _Timeout = NOT_GIVEN) -> None:
        """Turn TOTP off; needs a current code."""
        await self._client.request(NoneType, "DELETE", _TOTP, json={"otp": otp}, timeout=timeout)
