"""Wire models of the auth service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$(?!\n)")]
Password = Annotated[str, msgspec.Meta(max_length=1024)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Otp = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6,8}$(?!\n)")]
Scope = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_*.-]+(:[a-z0-9_*.-]+)*$(?!\n)", max_length=100)]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=False):
    """A new account."""

    email: Email
    password: Password
    display_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class TokenResponse(msgspec.Struct, omit_defaults=True):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105
    refresh_token: str | None = None
    scope: str | None = None


class EmailRequest(msgspec.Struct):
    """Only an email address."""

    email: Email


class TokenRequest(msgspec.Struct):
    """Only a token."""

    token: Token


class PasswordResetRequest(msgspec.Struct):
    """A reset token and the new password."""

    token: Token
    password: Password


class PasswordChangeRequest(msgspec.Struct):
    """The current password and a new one."""

    current_password: Password
    new_password: Password


class OtpRequest(msgspec.Struct):
    """A one-time code."""

    otp: Otp


class TotpEnrollment(msgspec.Struct):
    """The secret to load into an authenticator app (shown once)."""

    secret: str
    otpauth_uri: str


class ApiKeyCreate(msgspec.Struct):
    """A new API key (client credentials)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=50)] = []
    expires_in: Annotated[int, msgspec.Meta(ge=60, le=10 * 365 * 24 * 3600)] | None = None


class ApiKey(msgspec.Struct):
    """An API key as listed (never with its secret)."""

    id: str
    name: str
    scopes: list[str]
    client_id: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(msgspec.Struct):
    """A new API key with its secret (shown once)."""

    id: str
    name: str
    scopes: list[str]
    client_id: str
    client_secret: str
    created_at: datetime
    expires_at: datetime | None = None


class ApiKeyPage(msgspec.Struct):
    """A page of API keys."""

    items: list[ApiKey]
    next_cursor: str | None = None


class UserInfo(msgspec.Struct, omit_defaults=True):
    """OIDC userinfo."""

    sub: str
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
