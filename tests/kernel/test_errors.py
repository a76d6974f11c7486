"""Errors become RFC 9457 problem+json in one place: the GravityError tree, Litestar's own errors, remote errors,
unexpected errors and an unreachable database; and the same mapping for NATS micro endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from gravity_platform.kernel.bus import ERROR_CODE_HEADER, micro_handler
from gravity_platform.kernel.errors import (
    EXCEPTION_HANDLERS,
    PROBLEM_JSON,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GatewayTimeoutError,
    GravityError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    RemoteError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnprocessableError,
    ValidationFailedError,
)
from gravity_platform.kernel.observability import bind_ids

REQUEST_ID = "req-under-test"
REMOTE_PROBLEM = {"type": "urn:gravity:error:conflict", "title": "Conflict", "status": 409,
                  "detail": "taken on the other node", "request_id": "remote-id", "field": "email"}


class TeapotError(GravityError):
    status, code, title = 418, "teapot", "I am a teapot"


def bind_request_id(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        bind_ids(REQUEST_ID)
        await app(scope, receive, send)

    return middleware


RAISED: dict[str, Exception] = {
    "not-found": NotFoundError("No such thing"),
    "conflict": ConflictError(),
    "forbidden": ForbiddenError("Needs users:read"),
    "unauthorized": UnauthorizedError("The token expired"),
    "bad-request": BadRequestError("Bad"),
    "validation": ValidationFailedError("Invalid", extra={"errors": [{"field": "x"}]}),
    "unprocessable": UnprocessableError("The cursor is not valid"),
    "too-large": PayloadTooLargeError(),
    "limited": RateLimitedError(7, "Slow down"),
    "unavailable": ServiceUnavailableError("Down", headers={"Retry-After": "3"}),
    "timeout": GatewayTimeoutError("Too slow"),
    "teapot": TeapotError("Short and stout"),
    "remote": RemoteError(409, REMOTE_PROBLEM),
    "unexpected": RuntimeError("secret internals: password=hunter2"),
    "database-down": ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)"),
    "database-timeout": TimeoutError(),
}


@get("/raise/{name:str}", sync_to_thread=False)
def raising(name: FromPath[str]) -> None:
    raise RAISED[name]


@get("/typed", sync_to_thread=False)
def typed(count: FromQuery[int]) -> dict[str, int]:
    return {"count": count}


@post("/body", sync_to_thread=False)
def body(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = Litestar([raising, typed, body], exception_handlers=EXCEPTION_HANDLERS)
    app.asgi_handler = bind_request_id(app.asgi_handler)  # outermost, as the node app does
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def problem(client: AsyncTestClient[Litestar], path: str, status: int, code: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    document: dict[str, Any] = response.json()
    assert document["type"] == f"urn:gravity:error:{code}"
    assert document["status"] == status
    assert document["title"]
    assert document["detail"]
    assert document["request_id"] == REQUEST_ID
    return document


@pytest.mark.parametrize(("name", "status", "code", "title"), [
    ("not-found", 404, "not-found", "Not found"),
    ("conflict", 409, "conflict", "Conflict"),
    ("forbidden", 403, "forbidden", "Not allowed"),
    ("unauthorized", 401, "unauthorized", "Authentication required"),
    ("bad-request", 400, "bad-request", "Bad request"),
    ("unprocessable", 422, "unprocessable", "Unprocessable request"),
    ("too-large", 413, "payload-too-large", "Request body too large"),
    ("limited", 429, "rate-limited", "Too many requests"),
    ("unavailable", 503, "unavailable", "Service unavailable"),
    ("timeout", 504, "timeout", "Upstream timed out"),
    ("teapot", 418, "teapot", "I am a teapot"),
])
async def test_gravity_errors(client: AsyncTestClient[Litestar], name: str, status: int, code: str,
                              title: str) -> None:
    document = await problem(client, f"/raise/{name}", status, code)
    assert document["title"] == title
    assert document["detail"] == str(RAISED[name])


async def test_error_headers_and_extra_members(client: AsyncTestClient[Litestar]) -> None:
    limited = await client.get("/raise/limited")
    assert limited.headers["retry-after"] == "7"
    unauthorized = await client.get("/raise/unauthorized")
    assert unauthorized.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (await client.get("/raise/unavailable")).headers["retry-after"] == "3"
    validation = await problem(client, "/raise/validation", 400, "validation")
    assert validation["errors"] == [{"field": "x"}]
    assert RateLimitedError(0).headers["Retry-After"] == "1", "never a zero Retry-After"


async def test_remote_error_passes_through(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/raise/remote")
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == REMOTE_PROBLEM


async def test_unexpected_error_is_a_500_without_internals(client: AsyncTestClient[Litestar]) -> None:
    document = await problem(client, "/raise/unexpected", 500, "internal")
    assert "hunter2" not in json.dumps(document)
    assert "Traceback" not in json.dumps(document)


@pytest.mark.parametrize("name", ["database-down", "database-timeout"])
async def test_unreachable_dependency_is_a_503(client: AsyncTestClient[Litestar], name: str) -> None:
    response = await client.get(f"/raise/{name}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "urn:gravity:error:unavailable"
    assert "nothing was changed" in response.json()["detail"]


async def test_framework_errors_are_problems(client: AsyncTestClient[Litestar]) -> None:
    await problem(client, "/no/such/path", 404, "not-found")
    bad_query = await problem(client, "/typed?count=many", 400, "validation")
    assert bad_query["errors"], "which parameter was wrong"
    wrong_method = await client.delete("/typed")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "urn:gravity:error:method-not-allowed"
    broken = await client.post("/body", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.headers["content-type"] == PROBLEM_JSON
    wrong_shape = await client.post("/body", json={"a": "not an int"})
    assert wrong_shape.status_code == 400
    assert wrong_shape.json()["type"] == "urn:gravity:error:validation"


# --- the same errors answered by a NATS micro endpoint ---------------------------------------------------------


class FakeMicroRequest:
    """The two things `micro_handler` uses of a nats.micro request: its data and `respond`."""

    def __init__(self, data: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        self.data = data
        self.headers = headers or {"X-Request-ID": REQUEST_ID}
        self.answer: tuple[bytes, dict[str, str]] | None = None

    async def respond(self, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.answer = (data, headers or {})


async def answer_of(error: Exception | None) -> tuple[dict[str, Any] | bytes, dict[str, str]]:
    async def handler(payload: bytes, headers: dict[str, str]) -> bytes:
        if error is not None:
            raise error
        return b"plain answer"

    request = FakeMicroRequest()
    await micro_handler("things", "do", handler)(request)  # type: ignore[arg-type]
    assert request.answer is not None
    data, headers = request.answer
    return (json.loads(data) if ERROR_CODE_HEADER in headers else data), headers


async def test_bus_endpoint_answers() -> None:
    assert await answer_of(None) == (b"plain answer", {})

    body, headers = await answer_of(NotFoundError("No such user"))
    assert headers == {ERROR_CODE_HEADER: "404"}
    assert isinstance(body, dict)
    assert body["type"] == "urn:gravity:error:not-found"
    assert body["request_id"] == REQUEST_ID, "the caller's request ID carried in the NATS headers"

    body, headers = await answer_of(RemoteError(409, REMOTE_PROBLEM))
    assert headers == {ERROR_CODE_HEADER: "409"}
    assert body == REMOTE_PROBLEM

    body, headers = await answer_of(ConnectionRefusedError(111, "refused"))
    assert headers == {ERROR_CODE_HEADER: "503"}
    assert isinstance(body, dict)
    assert body["type"] == "urn:gravity:error:unavailable"

    body, headers = await answer_of(RuntimeError("secret internals"))
    assert headers == {ERROR_CODE_HEADER: "500"}
    assert b"secret" not in json.dumps(body).encode()
