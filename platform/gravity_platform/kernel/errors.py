"""The GravityError tree and its one mapping to RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from gravity_platform.kernel.observability import current_request_id

PROBLEM_JSON = "application/problem+json"


class GravityError(Exception):
    """Root of every error a service raises on purpose; carries its HTTP status and a stable code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        """The stable problem `type` of this error."""
        return f"urn:gravity:error:{self.code}"


class BadRequestError(GravityError):
    status, code, title = 400, "bad-request", "Bad request"


class ValidationFailedError(GravityError):
    status, code, title = 400, "validation", "Invalid request"


class UnauthorizedError(GravityError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')


class ForbiddenError(GravityError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFoundError(GravityError):
    status, code, title = 404, "not-found", "Not found"


class ConflictError(GravityError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLargeError(GravityError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class QuotaExceededError(PayloadTooLargeError):
    status, code, title = 413, "quota-exceeded", "Storage quota exceeded"


class RangeNotSatisfiableError(GravityError):
    status, code, title = 416, "range-not-satisfiable", "Range not satisfiable"

    def __init__(self, size: int, detail: str | None = None) -> None:
        super().__init__(detail or f"The resource has {size} bytes", headers={"Content-Range": f"bytes */{size}"})


class UnprocessableError(GravityError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class RateLimitedError(GravityError):
    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailableError(GravityError):
    status, code, title = 503, "unavailable", "Service unavailable"


class GatewayTimeoutError(GravityError):
    status, code, title = 504, "timeout", "Upstream timed out"


class RemoteError(GravityError):
    """An error answered by a service on another node, re-raised here with its status and problem body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail", "remote error")))
        self.remote_status = status
        self.problem = problem


_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
    429: ("rate-limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """Build an RFC 9457 problem document stamped with the current request ID."""
    body: dict[str, Any] = {"type": f"urn:gravity:error:{code}", "title": title, "status": status, "detail": detail}
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[bytes]:
    """Encode a problem document as an `application/problem+json` response."""
    return Response(msgspec.json.encode(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _gravity_error_handler(_: Request[Any, Any, Any], exc: GravityError) -> Response[bytes]:
    if isinstance(exc, RemoteError):
        return problem_response(exc.remote_status, exc.problem, exc.headers)
    body = problem_body(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    return problem_response(exc.status, body, exc.headers)


def _validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    detail = exc.detail if exc.detail and exc.detail != "Bad Request" else "The request is not valid"
    body = problem_body(400, "validation", "Invalid request", detail, errors=errors)
    return problem_response(400, body)


def _http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    code, title = _STATUS_CODES.get(status, ("error" if status < 500 else "internal", "Error"))
    if status >= 500:
        code, title = "internal", "Internal error"
    body = problem_body(status, code, title, exc.detail or title)
    return problem_response(status, body, dict(exc.headers or {}))


def _unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    import logging

    from gravity_platform.kernel.db import CONNECTION_ERRORS, unavailable

    if isinstance(exc, CONNECTION_ERRORS):  # a dependency is down: 503, never a bare 500
        return _gravity_error_handler(request, unavailable(exc))
    logging.getLogger("gravity.errors").exception("unhandled error", exc_info=exc)
    body = problem_body(500, "internal", "Internal error", "An unexpected error occurred; see the server log")
    return problem_response(500, body)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GravityError: _gravity_error_handler,
    ValidationException: _validation_handler,
    HTTPException: _http_error_handler,
    Exception: _unexpected_error_handler,
}
"""Installed on every node app: the one place errors become problem+json."""

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "GatewayTimeoutError",
    "GravityError",
    "NotFoundError",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "RangeNotSatisfiableError",
    "RateLimitedError",
    "RemoteError",
    "ServiceUnavailableError",
    "UnauthorizedError",
    "UnprocessableError",
    "ValidationFailedError",
    "problem_body",
    "problem_response",
]
