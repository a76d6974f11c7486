"""Retries: which requests, how often, and how long to wait."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gravity_sdk as g
from gravity_sdk._constants import MAX_RETRY_AFTER
from gravity_sdk._retry import backoff_delay, parse_retry_after, retry_delay

from .conftest import USER, token_body


class Flaky:
    """Answers ``failures`` error responses (or raises), then succeeds."""

    def __init__(self, failures, *, status=503, headers=None, error=None, body=None):
        self.failures = failures
        self.status = status
        self.headers = headers or {}
        self.error = error
        self.body = USER if body is None else body
        self.calls = 0

    def __call__(self, request):
        self.calls += 1
        if self.calls <= self.failures:
            if self.error is not None:
                raise self.error("boom", request=request)
            return httpx2.Response(self.status, headers=self.headers, json={"title": "later"})
        return httpx2.Response(200, json=self.body)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_idempotent_request_is_retried_on_retryable_status(make_client, status):
    handler = Flaky(2, status=status)
    client = make_client(handler)

    assert client.users.me().email == USER["email"]
    assert handler.calls == 3
    assert len(client.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_are_not_retried(make_client, status):
    handler = Flaky(1, status=status)
    client = make_client(handler)

    with pytest.raises(g.APIStatusError):
        client.users.get("u1")
    assert handler.calls == 1


def test_retries_stop_after_max_retries(make_client):
    handler = Flaky(10)
    client = make_client(handler, max_retries=3)

    with pytest.raises(g.InternalServerError):
        client.users.me()
    assert handler.calls == 4
    assert len(client.sleeps) == 3


def test_max_retries_zero_disables_retries(make_client):
    handler = Flaky(1)
    client = make_client(handler, max_retries=0)

    with pytest.raises(g.InternalServerError):
        client.users.me()
    assert handler.calls == 1


def test_negative_max_retries_is_rejected():
    with pytest.raises(ValueError, match="max_retries"):
        g.Gravity(max_retries=-1)


def test_post_is_not_retried_on_server_error(make_client):
    handler = Flaky(1)
    client = make_client(handler)

    with pytest.raises(g.InternalServerError):
        client.auth.register(email="ada@example.com", password="pw")
    assert handler.calls == 1


def test_post_is_not_retried_after_a_read_error(make_client):
    handler = Flaky(1, error=httpx2.ReadError)
    client = make_client(handler)

    with pytest.raises(g.APIConnectionError):
        client.auth.register(email="ada@example.com", password="pw")
    assert handler.calls == 1


def test_post_is_retried_when_the_connection_was_never_made(make_client):
    handler = Flaky(1, error=httpx2.ConnectError)
    client = make_client(handler)

    assert client.auth.register(email="ada@example.com", password="pw").id == USER["id"]
    assert handler.calls == 2


@pytest.mark.parametrize("error", [httpx2.ReadTimeout, httpx2.ReadError, httpx2.RemoteProtocolError])
def test_idempotent_request_is_retried_after_transport_errors(make_client, error):
    handler = Flaky(2, error=error)
    client = make_client(handler)

    assert client.users.me().id == USER["id"]
    assert handler.calls == 3


def test_timeouts_that_persist_raise_api_timeout_error(make_client):
    handler = Flaky(10, error=httpx2.ReadTimeout)
    client = make_client(handler, max_retries=1)

    with pytest.raises(g.APITimeoutError):
        client.users.me()
    assert handler.calls == 2


def test_token_refresh_is_retried(make_client):
    handler = Flaky(1, body=token_body("new", "refresh-2"))
    client = make_client(handler, refresh_token="refresh-1")

    client.auth.refresh()
    assert handler.calls == 2
    assert client.tokens.access_token == "new"


def test_retry_after_seconds_is_honoured(make_client):
    handler = Flaky(1, status=429, headers={"retry-after": "7"})
    client = make_client(handler)

    client.users.me()
    assert client.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(make_client):
    when = datetime.now(UTC) + timedelta(seconds=20)
    handler = Flaky(1, status=503, headers={"retry-after": email.utils.format_datetime(when, usegmt=True)})
    client = make_client(handler)

    client.users.me()
    assert 17.0 < client.sleeps[0] <= 20.0


def test_retry_after_is_capped(make_client):
    handler = Flaky(1, status=503, headers={"retry-after": "86400"})
    client = make_client(handler)

    client.users.me()
    assert client.sleeps == [MAX_RETRY_AFTER]


def test_invalid_retry_after_falls_back_to_backoff(make_client):
    handler = Flaky(2, status=503, headers={"retry-after": "soon"})
    client = make_client(handler)

    client.users.me()
    first, second = client.sleeps
    assert 0.375 <= first <= 0.5
    assert 0.75 <= second <= 1.0


def test_backoff_without_retry_after_grows(make_client):
    handler = Flaky(4, status=502)
    client = make_client(handler, max_retries=4)

    client.users.me()
    for attempt, delay in enumerate(client.sleeps):
        base = min(0.5 * 2**attempt, 8.0)
        assert base * 0.75 <= delay <= base


@given(st.integers(min_value=0, max_value=5000), st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_backoff_jitter_stays_within_bounds(retries_taken, rand):
    base = min(0.5 * 2 ** min(retries_taken, 10), 8.0)
    delay = backoff_delay(retries_taken, rand=lambda: rand)
    assert base * 0.75 <= delay <= base


def test_backoff_is_actually_jittered():
    delays = {round(backoff_delay(1), 9) for _ in range(50)}
    assert len(delays) > 1


@given(st.integers(min_value=0, max_value=10**9))
def test_parse_retry_after_seconds(seconds):
    assert parse_retry_after(httpx2.Headers({"retry-after": str(seconds)})) == float(seconds)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_parse_retry_after_http_date(offset):
    now = 1_750_000_000.0
    value = email.utils.formatdate(now + offset, usegmt=True)
    assert parse_retry_after(httpx2.Headers({"retry-after": value}), now=lambda: now) == max(0.0, float(offset))


@given(st.text())
def test_parse_retry_after_never_raises(value):
    try:
        headers = httpx2.Headers({"retry-after": value})
    except (UnicodeEncodeError, ValueError):
        return
    result = parse_retry_after(headers)
    assert result is None or result >= 0.0


@pytest.mark.parametrize("value", ["", "soon", "nan", "inf", "-inf", "Mon, 99 Foo 2025 00:00:00 GMT"])
def test_parse_retry_after_rejects_garbage(value):
    assert parse_retry_after(httpx2.Headers({"retry-after": value})) is None


def test_parse_retry_after_past_date_is_zero():
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert parse_retry_after(httpx2.Headers({"retry-after": past})) == 0.0


def test_retry_delay_without_header_uses_backoff():
    assert 0.375 <= retry_delay(0) <= 0.5
    assert 6.0 <= retry_delay(10, httpx2.Headers()) <= 8.0


async def test_async_client_retries_with_retry_after(make_async_client):
    handler = Flaky(2, status=503, headers={"retry-after": "3"})
    client = make_async_client(handler)

    assert (await client.users.me()).id == USER["id"]
    assert handler.calls == 3
    assert client.sleeps == [3.0, 3.0]


async def test_async_patch_is_not_retried(make_async_client):
    handler = Flaky(1, status=503)
    client = make_async_client(handler)

    with pytest.raises(g.InternalServerError):
        await client.users.update_me(display_name="x")
    assert handler.calls == 1


async def test_async_connection_errors_are_retried_then_raised(make_async_client):
    handler = Flaky(10, error=httpx2.ConnectError)
    client = make_async_client(handler, max_retries=2)

    with pytest.raises(g.APIConnectionError):
        await client.users.me()
    assert handler.calls == 3
