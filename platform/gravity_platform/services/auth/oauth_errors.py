"""RFC 6749 §5.2 errors of the token endpoint (the one place that does not speak problem+json)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from gravity_platform.kernel.errors import GravityError


class OAuthError(GravityError):
    """An error the token endpoint answers as `{"error": ..., "error_description": ...}`."""

    status, code, title = 400, "oauth", "OAuth error"

    def __init__(self, error: str, description: str, *, status: int = 400, headers: dict[str, str] | None = None,
                 **fields: Any) -> None:
        super().__init__(description, headers=headers)
        self.error = error
        self.http_status = status
        self.fields = fields


def invalid_grant(description: str) -> OAuthError:
    """The grant (password, refresh token, code) is not valid."""
    return OAuthError("invalid_grant", description)


def invalid_client(description: str = "Client authentication failed") -> OAuthError:
    """Client authentication failed (401 with a Basic challenge)."""
    return OAuthError("invalid_client", description, status=401, headers={"WWW-Authenticate": 'Basic realm="gravity"'})


def oauth_error_handler(_: Request[Any, Any, Any], exc: OAuthError) -> Response[bytes]:
    """Render an OAuthError per RFC 6749 §5.2."""
    body = {"error": exc.error, "error_description": exc.detail, **exc.fields}
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
    return Response(msgspec.json.encode(body), status_code=exc.http_status, media_type="application/json",
                    headers=headers)
