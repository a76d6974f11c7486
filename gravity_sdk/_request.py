"""Pure helpers between ``RequestOptions``, ``httpx2`` and the SDK's models and errors."""

from __future__ import annotations

import base64
import logging
from types import NoneType
from typing import Any, TypeVar, cast

import httpx2
import msgspec

from ._constants import TOKEN_PATH
from ._exceptions import APIConnectionError, APIResponseValidationError, APITimeoutError
from ._types import NotGiven, Params, RequestOptions, TimeoutTypes

log = logging.getLogger("gravity_sdk")

T = TypeVar("T")


def refresh_grant_options(refresh_token: str, timeout: TimeoutTypes | NotGiven) -> RequestOptions:
    """The token endpoint call exchanging a refresh token; safe to retry (the server tolerates a quick reuse)."""
    return RequestOptions(
        method="POST",
        path=TOKEN_PATH,
        form={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=timeout,
        authenticated=False,
        idempotent=True,
    )


def log_retry(request: httpx2.Request, delay: float, reason: str) -> None:
    log.info("Retrying %s %s in %.2f s (%s)", request.method, request.url, delay, reason)


def connection_error(request: httpx2.Request, exc: httpx2.TransportError) -> APIConnectionError:
    if isinstance(exc, httpx2.TimeoutException):
        return APITimeoutError(request)
    return APIConnectionError(request=request, message=f"Connection error: {exc}")


def basic_auth_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def clean_params(params: Params | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None and not isinstance(value, NotGiven)}


def decode_response(response: httpx2.Response, cast_to: type[T]) -> T:
    if cast_to is NoneType:
        return cast(T, None)
    try:
        return msgspec.json.decode(response.content, type=cast_to)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise APIResponseValidationError(response, str(exc)) from exc
