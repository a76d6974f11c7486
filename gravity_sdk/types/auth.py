"""Tokens and multi-factor enrolment."""

from __future__ import annotations

from datetime import datetime

import msgspec


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A successful answer of the OAuth2 token endpoint (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    """The tokens a client currently holds.

    ``expires_at`` is the access token's expiry (timezone-aware, UTC) when known.
    Encode it with ``msgspec.json.encode`` to persist it, and pass the fields back to
    the client's constructor to restore a session.
    """

    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scope: str | None = None


class TotpEnrollment(msgspec.Struct, frozen=True, kw_only=True):
    """A new TOTP secret; show ``otpauth_uri`` as a QR code, then confirm with a code."""

    secret: str
    otpauth_uri: str
