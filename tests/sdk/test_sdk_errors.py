"""Error responses become typed exceptions carrying the problem details."""

from __future__ import annotations

import httpx2
import pytest

import gravity_sdk as g

from .conftest import USER


def problem(status: int, code: str = "not-found", **extra: object) -> dict[str, object]:
    return {
        "type": f"urn:gravity:error:{code}",
        "title": "Something",
        "status": status,
        "detail": f"detail for {status}",
        "request_id": "req-body",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, g.BadRequestError),
        (401, g.AuthenticationError),
        (403, g.PermissionDeniedError),
        (404, g.NotFoundError),
        (409, g.ConflictError),
        (413, g.PayloadTooLargeError),
        (422, g.UnprocessableEntityError),
        (429, g.RateLimitError),
        (500, g.InternalServerError),
        (502, g.InternalServerError),
        (503, g.InternalServerError),
        (418, g.APIStatusError),
    ],
)
def test_status_maps_to_exception_class(make_client, status, error_type):
    client = make_client(lambda request: httpx2.Response(status, json=problem(status)), max_retries=0)

    with pytest.raises(error_type) as info:
        client.users.me()

    error = info.value
    assert type(error) is error_type
    assert isinstance(error, g.APIStatusError)
    assert isinstance(error, g.APIError)
    assert isinstance(error, g.GravityError)
    assert error.status_code == status
    assert error.response.status_code == status
    assert error.request.url.path == "/api/v1/users/me"


def test_problem_fields_are_parsed(make_client):
    body = problem(422, "validation", errors=[{"field": "email", "message": "invalid"}])
    client = make_client(lambda request: httpx2.Response(422, json=body, headers={"x-request-id": "req-header"}))

    with pytest.raises(g.UnprocessableEntityError) as info:
        client.users.update_me(display_name="x")

    error = info.value
    assert error.type == "urn:gravity:error:validation"
    assert error.title == "Something"
    assert error.detail == "detail for 422"
    assert error.errors == [{"field": "email", "message": "invalid"}]
    assert error.problem is not None
    assert error.problem.code == "validation"
    assert error.request_id == "req-header"
    assert error.body == body
    assert "detail for 422" in str(error)
    assert "req-header" in str(error)


def test_request_id_falls_back_to_problem_body(make_client):
    client = make_client(lambda request: httpx2.Response(404, json=problem(404)))

    with pytest.raises(g.NotFoundError) as info:
        client.users.get("nobody")

    assert info.value.request_id == "req-body"


def test_quota_exceeded_is_payload_too_large_with_code(make_client):
    client = make_client(lambda request: httpx2.Response(413, json=problem(413, "quota-exceeded")))

    with pytest.raises(g.PayloadTooLargeError) as info:
        client.users.me()

    assert info.value.problem is not None
    assert info.value.problem.code == "quota-exceeded"


def test_oauth_error_keeps_status_mapping_and_exposes_error_code(make_client):
    body = {"error": "invalid_grant", "error_description": "bad credentials"}
    client = make_client(lambda request: httpx2.Response(400, json=body))

    with pytest.raises(g.BadRequestError) as info:
        client.auth.login(email="ada@example.com", password="wrong")

    error = info.value
    assert type(error) is g.BadRequestError
    assert error.error == "invalid_grant"
    assert error.error_description == "bad credentials"
    assert error.problem is None
    assert error.type is None
    assert "bad credentials" in str(error)
    assert client.tokens.access_token is None


def test_invalid_client_is_authentication_error(make_client):
    body = {"error": "invalid_client", "error_description": "unknown client"}
    client = make_client(
        lambda request: httpx2.Response(401, json=body, headers={"www-authenticate": 'Basic realm="gravity"'})
    )

    with pytest.raises(g.AuthenticationError) as info:
        client.auth.login_with_client_credentials(client_id="cid", client_secret="nope")

    assert info.value.error == "invalid_client"


def test_mfa_required_carries_mfa_token(make_client):
    client = make_client(lambda request: httpx2.Response(400, json={"error": "mfa_required", "mfa_token": "mfa-123"}))

    with pytest.raises(g.MFARequiredError) as info:
        client.auth.login(email="ada@example.com", password="right")

    assert isinstance(info.value, g.BadRequestError)
    assert info.value.mfa_token == "mfa-123"
    assert info.value.error == "mfa_required"


def test_rate_limit_error_exposes_retry_after(make_client):
    client = make_client(
        lambda request: httpx2.Response(429, json=problem(429, "rate-limited"), headers={"retry-after": "42"}),
        max_retries=0,
    )

    with pytest.raises(g.RateLimitError) as info:
        client.auth.login(email="ada@example.com", password="pw")

    assert info.value.retry_after == 42.0


def test_error_without_json_body(make_client):
    client = make_client(lambda request: httpx2.Response(502, text="<html>bad gateway</html>"), max_retries=0)

    with pytest.raises(g.InternalServerError) as info:
        client.users.me()

    assert info.value.body is None
    assert info.value.problem is None
    assert str(info.value) == "HTTP 502"


def test_malformed_problem_fields_do_not_break_parsing(make_client):
    body = {"type": "urn:gravity:error:odd", "title": "Odd", "status": "four hundred", "detail": 7}
    client = make_client(lambda request: httpx2.Response(400, json=body))

    with pytest.raises(g.BadRequestError) as info:
        client.users.me()

    assert info.value.type == "urn:gravity:error:odd"
    assert info.value.title == "Odd"
    assert info.value.detail is None


def test_undecodable_success_body_is_validation_error(make_client):
    client = make_client(lambda request: httpx2.Response(200, json={**USER, "id": None}))

    with pytest.raises(g.APIResponseValidationError) as info:
        client.users.me()

    assert info.value.status_code == 200
    assert isinstance(info.value, g.APIError)


def test_timeout_raises_api_timeout_error(make_client):
    def handler(request):
        raise httpx2.ReadTimeout("timed out", request=request)

    client = make_client(handler, max_retries=0)

    with pytest.raises(g.APITimeoutError) as info:
        client.users.me()

    assert isinstance(info.value, g.APIConnectionError)
    assert isinstance(info.value.__cause__, httpx2.ReadTimeout)


def test_connection_failure_raises_api_connection_error(make_client):
    def handler(request):
        raise httpx2.ConnectError("connection refused", request=request)

    client = make_client(handler, max_retries=0)

    with pytest.raises(g.APIConnectionError) as info:
        client.users.me()

    assert not isinstance(info.value, g.APITimeoutError)
    assert info.value.request.url.path == "/api/v1/users/me"


async def test_async_client_maps_errors_the_same_way(make_async_client):
    client = make_async_client(lambda request: httpx2.Response(409, json=problem(409, "email-taken")))

    with pytest.raises(g.ConflictError) as info:
        await client.auth.register(email="ada@example.com", password="pw")

    assert info.value.problem is not None
    assert info.value.problem.code == "email-taken"


async def test_async_timeout_raises_api_timeout_error(make_async_client):
    def handler(request):
        raise httpx2.ConnectTimeout("timed out", request=request)

    client = make_async_client(handler, max_retries=0)

    with pytest.raises(g.APITimeoutError):
        await client.users.me()
