"""The exceptions raised by the SDK.

``GravityError`` is the root. ``APIStatusError`` and its per-status subclasses are
raised for error responses; ``APIConnectionError`` (and ``APITimeoutError``) when no
response arrived.
"""

from __future__ import annotations

from typing import Any

import httpx2
import msgspec

from ._retry import parse_retry_after
from .types.problem import Problem

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GravityError",
    "InternalServerError",
    "MFARequiredError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RealtimeAuthenticationError",
    "RealtimeConnectionError",
    "RealtimeError",
    "UnprocessableEntityError",
]


class GravityError(Exception):
    """Root of every exception raised by the SDK."""


class APIError(GravityError):
    """A request to the Gravity API failed."""

    message: str
    request: httpx2.Request
    body: object | None
    """The decoded JSON body of the response, if there was one."""

    def __init__(self, message: str, request: httpx2.Request, *, body: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class APIResponseValidationError(APIError):
    """The server answered with a success status but a body the SDK could not decode."""

    response: httpx2.Response
    status_code: int

    def __init__(self, response: httpx2.Response, message: str) -> None:
        super().__init__(f"Invalid response body: {message}", response.request, body=_json_or_none(response))
        self.response = response
        self.status_code = response.status_code


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status.

    The RFC 9457 fields (``type``, ``title``, ``detail``, ``errors``) are parsed from a
    problem body; OAuth2 endpoints set ``error`` and ``error_description`` instead
    (RFC 6749 §5.2).
    """

    response: httpx2.Response
    status_code: int
    request_id: str | None
    problem: Problem | None
    type: str | None
    title: str | None
    detail: str | None
    errors: list[Any] | None
    error: str | None
    """The OAuth2 error code (``invalid_grant``, ``invalid_client`` ...), for token endpoint errors."""
    error_description: str | None

    def __init__(self, message: str | None = None, *, response: httpx2.Response, body: object | None = None) -> None:
        fields = body if isinstance(body, dict) else {}
        self.response = response
        self.status_code = response.status_code
        self.problem = _problem_from(fields)
        self.type = self.problem.type if self.problem else None
        self.title = self.problem.title if self.problem else None
        self.detail = self.problem.detail if self.problem else None
        self.errors = self.problem.errors if self.problem else None
        self.error = _str_field(fields, "error")
        self.error_description = _str_field(fields, "error_description")
        self.request_id = response.headers.get("x-request-id") or _str_field(fields, "request_id")
        super().__init__(message or self._default_message(), response.request, body=body)

    def _default_message(self) -> str:
        text = f"HTTP {self.status_code}"
        summary = self.detail or self.error_description or self.title or self.error
        if summary:
            text += f": {summary}"
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text


class BadRequestError(APIStatusError):
    """HTTP 400."""


class MFARequiredError(BadRequestError):
    """The password was right but the account needs a second factor.

    Pass ``mfa_token`` and a one-time code to ``client.auth.complete_mfa()``.
    """

    mfa_token: str

    def __init__(self, message: str | None = None, *, response: httpx2.Response, body: object | None = None) -> None:
        self.mfa_token = _str_field(body if isinstance(body, dict) else {}, "mfa_token") or ""
        super().__init__(message or "Multi-factor authentication required", response=response, body=body)


class AuthenticationError(APIStatusError):
    """HTTP 401: missing, invalid or expired credentials."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409, e.g. registering an email that already has an account."""


class PayloadTooLargeError(APIStatusError):
    """HTTP 413: over a size limit or over the user's quota."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: the request was well-formed but did not validate."""


class RateLimitError(APIStatusError):
    """HTTP 429. ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one."""

    retry_after: float | None

    def __init__(self, message: str | None = None, *, response: httpx2.Response, body: object | None = None) -> None:
        self.retry_after = parse_retry_after(response.headers)
        super().__init__(message, response=response, body=body)


class InternalServerError(APIStatusError):
    """HTTP 500 or above."""


class APIConnectionError(APIError):
    """No response: the connection failed or broke."""

    def __init__(self, *, request: httpx2.Request, message: str = "Connection error.") -> None:
        super().__init__(message, request)


class APITimeoutError(APIConnectionError):
    """No response within the timeout."""

    def __init__(self, request: httpx2.Request) -> None:
        super().__init__(request=request, message="Request timed out.")


class RealtimeError(GravityError):
    """The realtime feed (``client.realtime``) ended."""


class RealtimeAuthenticationError(RealtimeError):
    """The realtime socket's access token was refused (close code 4401) and refreshing it did not help."""


class RealtimeConnectionError(RealtimeError):
    """The realtime socket failed to open or closed, and the feed was opened with ``reconnect=False``.
    ``code`` is the WebSocket close code (None when the socket did not open), ``reason`` the server's reason."""

    code: int | None
    reason: str

    def __init__(self, code: int | None, reason: str) -> None:
        self.code, self.reason = code, reason
        what = "could not open" if code is None else f"closed with code {code}"
        super().__init__(f"The realtime socket {what}" + (f": {reason}" if reason else ""))


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(response: httpx2.Response) -> APIStatusError:
    """Build the exception matching an error response's status and body."""
    body = _json_or_none(response)
    status = response.status_code
    cls = InternalServerError if status >= 500 else _STATUS_ERRORS.get(status, APIStatusError)
    if status == 400 and isinstance(body, dict) and body.get("error") == "mfa_required":
        cls = MFARequiredError
    return cls(response=response, body=body)


def _json_or_none(response: httpx2.Response) -> object | None:
    if not response.content:
        return None
    try:
        body: object = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return None
    return body


def _problem_from(fields: dict[Any, Any]) -> Problem | None:
    if not any(key in fields for key in ("type", "title", "detail")):
        return None
    try:
        return msgspec.convert(fields, Problem)
    except msgspec.ValidationError:
        return Problem(
            type=_str_field(fields, "type") or "about:blank",
            title=_str_field(fields, "title"),
            detail=_str_field(fields, "detail"),
        )


def _str_field(fields: dict[Any, Any], key: str) -> str | None:
    value = fields.get(key)
    return value if isinstance(value, str) else None
