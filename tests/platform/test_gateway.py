"""The edge every node runs: request IDs, CORS, body limit, rate limits, OpenAPI, health, metrics and RBAC wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from litestar import Litestar

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.access import check_route_permissions
from tests.platform.conftest import Account, new_account
from tests.platform.harness import RunningNode
from tests.platform.support import GENERATED_ID, assert_problem, away_from_window_edge, node_with

ORIGIN = "https://app.example"
PUBLIC_PATH = "/.well-known/openid-configuration"
LIMITED_VALKEY_DB = 9


# --- request IDs ---------------------------------------------------------------------------------------------


async def test_every_response_carries_a_request_id(http: httpx2.AsyncClient) -> None:
    ids = set()
    for path in ("/healthz", "/readyz", "/openapi.json", PUBLIC_PATH):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert GENERATED_ID.match(response.headers["x-request-id"]), path
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 4, "each request gets its own ID"


async def test_cached_answers_carry_their_own_request_id(http: httpx2.AsyncClient) -> None:
    first = await http.get(PUBLIC_PATH, headers={"X-Request-ID": "cache-first"})
    second = await http.get(PUBLIC_PATH, headers={"X-Request-ID": "cache-second"})
    third = await http.get(PUBLIC_PATH)
    assert first.headers.get_list("x-request-id") == ["cache-first"]
    assert second.headers.get_list("x-request-id") == ["cache-second"], "never the ID of the cached request"
    assert len(third.headers.get_list("x-request-id")) == 1
    assert GENERATED_ID.match(third.headers["x-request-id"])
    assert first.json() == second.json() == third.json()


async def test_request_id_is_in_problem_bodies(http: httpx2.AsyncClient) -> None:
    assert_problem(await http.get("/api/v1/users/me"), 401, "unauthorized")
    assert_problem(await http.get("/no/such/route"), 404, "not-found")
    assert_problem(await http.delete("/api/v1/users/me"), 405)
    assert_problem(await http.get("/api/v1/users/not-a-uuid"), 404)


async def test_sane_client_request_id_is_kept(http: httpx2.AsyncClient) -> None:
    for sent in ("abc-123", "trace_ID.42:7", "A" * 128):
        response = await http.get("/api/v1/users/me", headers={"X-Request-ID": sent})
        assert response.headers["x-request-id"] == sent
        assert response.json()["request_id"] == sent
    correlated = await http.get("/healthz", headers={"X-Correlation-ID": "flow-7"})
    assert correlated.headers["x-correlation-id"] == "flow-7"


async def test_insane_client_request_id_is_replaced(http: httpx2.AsyncClient) -> None:
    for sent in (b"has spaces in it", b"x" * 500, b"A" * 129, b"<script>", b"a\tb", b"semi;colon",
                 "ünïcode".encode()):
        response = await http.get("/api/v1/users/me", headers={b"X-Request-ID": sent})
        echoed = response.headers["x-request-id"]
        assert echoed.encode() != sent
        assert GENERATED_ID.match(echoed), echoed
        assert response.json()["request_id"] == echoed
    forged = await http.get("/healthz", headers={"X-Correlation-ID": "a b"})
    assert "x-correlation-id" not in forged.headers


# --- CORS ----------------------------------------------------------------------------------------------------


async def test_cors_allow_list(stack: StackEndpoints, key_file: Path) -> None:
    async with node_with(stack, key_file, gateway={"cors_origins": [ORIGIN]}) as node, node.client() as client:
        preflight = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization"}
        allowed = await client.options("/api/v1/users/me", headers={"Origin": ORIGIN, **preflight})
        assert allowed.status_code in (200, 204)
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "PATCH" in allowed.headers["access-control-allow-methods"]
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers

        refused = await client.options("/api/v1/users/me", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:gravity:error:cors-refused"
        assert "Origin" in refused.json()["detail"]
        assert refused.json()["request_id"] == refused.headers["x-request-id"]

        simple = await client.get(PUBLIC_PATH, headers={"Origin": ORIGIN})
        assert simple.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        assert "retry-after" in simple.headers["access-control-expose-headers"].lower()
        foreign = await client.get(PUBLIC_PATH, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 200
        assert foreign.headers.get("access-control-allow-origin") in (None, ORIGIN), "never the foreign origin"
        assert "*" not in foreign.headers.get("access-control-allow-origin", "")


async def test_no_cors_unless_configured(http: httpx2.AsyncClient) -> None:
    answer = await http.get(PUBLIC_PATH, headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in answer.headers


# --- body limit ----------------------------------------------------------------------------------------------


async def test_body_limit(http: httpx2.AsyncClient, account: Account) -> None:
    big = b'{"display_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {**account.headers, "content-type": "application/json"}
    assert_problem(await http.patch("/api/v1/users/me", headers=headers, content=big), 413, "payload-too-large")
    assert_problem(await http.post("/api/v1/auth/register", headers=headers, content=big), 413)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"display_name": "'
        for _ in range(32):
            yield b"y" * 65536
        yield b'"}'

    streamed = await http.patch("/api/v1/users/me", headers=headers, content=chunks())
    assert_problem(streamed, 413)
    me = (await http.get("/api/v1/users/me", headers=account.headers)).json()
    assert me["display_name"] is None, "nothing of the refused body was applied"


# --- rate limiting ---


@pytest.fixture
def peer_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes started in this test see the real TCP peer: uvicorn's own X-Forwarded-For rewriting (on by default
    for 127.0.0.1, off in `gravity serve`) would otherwise hide it from the platform's trusted-proxy check."""
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.0.2.254")


# -------------------------------------------------------------------------------------------


async def _burst(client: httpx2.AsyncClient, count: int, **headers: str) -> list[int]:
    statuses = []
    for _ in range(count):
        statuses.append((await client.get(PUBLIC_PATH, headers=headers)).status_code)
    return statuses


def _assert_limited(response: httpx2.Response) -> None:
    assert_problem(response, 429, "rate-limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_anonymous_rate_limit(stack: StackEndpoints, key_file: Path) -> None:
    gateway = {"anonymous_rate_limit_per_minute": 5, "trusted_proxies": []}
    async with node_with(stack, key_file, valkey_database=LIMITED_VALKEY_DB, gateway=gateway) as node, \
            node.client() as client:
        await away_from_window_edge()
        assert await _burst(client, 5) == [200] * 5
        _assert_limited(await client.get(PUBLIC_PATH))
        _assert_limited(await client.post("/api/v1/auth/register", json={}))
        health = await client.get("/healthz")
        assert health.status_code == 200, "probes are never rate-limited"
        assert (await client.get("/readyz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'gravity_rate_limited_total{scope="address"}' in metrics


@pytest.mark.usefixtures("peer_only")
async def test_untrusted_forwarded_for_is_ignored(stack: StackEndpoints, key_file: Path) -> None:
    gateway = {"anonymous_rate_limit_per_minute": 5, "trusted_proxies": []}
    async with node_with(stack, key_file, valkey_database=LIMITED_VALKEY_DB, gateway=gateway) as node, \
            node.client() as client:
        await away_from_window_edge()
        assert await _burst(client, 3, **{"X-Forwarded-For": "203.0.113.1"}) == [200] * 3
        assert await _burst(client, 2, **{"X-Forwarded-For": "203.0.113.2"}) == [200] * 2
        _assert_limited(await client.get(PUBLIC_PATH, headers={"X-Forwarded-For": "203.0.113.3"}))
        _assert_limited(await client.get(PUBLIC_PATH))


@pytest.mark.usefixtures("peer_only")
async def test_trusted_proxy_forwarded_for_is_honoured(stack: StackEndpoints, key_file: Path) -> None:
    gateway = {"anonymous_rate_limit_per_minute": 5, "trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"]}
    async with node_with(stack, key_file, valkey_database=LIMITED_VALKEY_DB, gateway=gateway) as node, \
            node.client() as client:
        await away_from_window_edge()
        first = {"X-Forwarded-For": "198.51.100.1"}
        assert await _burst(client, 5, **first) == [200] * 5
        _assert_limited(await client.get(PUBLIC_PATH, headers=first))
        assert await _burst(client, 5, **{"X-Forwarded-For": "198.51.100.2"}) == [200] * 5
        spoofed = {"X-Forwarded-For": "192.0.2.77, 198.51.100.1, 10.1.2.3"}
        _assert_limited(await client.get(PUBLIC_PATH, headers=spoofed))
        assert (await client.get(PUBLIC_PATH)).status_code == 200, "the proxy's own bucket is separate"


async def test_rate_limit_per_subject(stack: StackEndpoints, key_file: Path, http: httpx2.AsyncClient) -> None:
    alice, bob = await new_account(http, "alice"), await new_account(http, "bob")
    gateway = {"rate_limit_per_minute": 5, "anonymous_rate_limit_per_minute": 1000, "trusted_proxies": []}
    async with node_with(stack, key_file, valkey_database=LIMITED_VALKEY_DB, gateway=gateway) as node, \
            node.client() as client:
        await away_from_window_edge()
        for _ in range(5):
            assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        limited = await client.get("/api/v1/users/me", headers=alice.headers)
        _assert_limited(limited)
        assert "per minute" in limited.json()["detail"] or "a minute" in limited.json()["detail"]
        assert (await client.get("/api/v1/users/me", headers=bob.headers)).status_code == 200
        assert (await client.get(PUBLIC_PATH)).status_code == 200, "anonymous callers have their own buckets"
        metrics = (await client.get("/metrics")).text
        assert 'gravity_rate_limited_total{scope="subject"}' in metrics


# --- OpenAPI and docs ----------------------------------------------------------------------------------------


async def test_openapi_document(http: httpx2.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ("/api/v1/users/me", "/api/v1/users", "/api/v1/users/{user_id}", "/oauth2/token",
                 "/api/v1/auth/register", "/.well-known/jwks.json"):
        assert path in paths, path
    assert not any(path.startswith("/schema") for path in paths)
    assert {"get", "patch"} <= set(paths["/api/v1/users/me"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_swagger_ui(http: httpx2.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


# --- health, readiness, metrics ------------------------------------------------------------------------------


async def test_health_and_readiness(http: httpx2.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert all(ready.json()["checks"].values())


async def test_metrics_for_loopback(http: httpx2.AsyncClient) -> None:
    await http.get("/healthz")
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "gravity_http_requests_total" in response.text
    assert 'gravity_http_requests_total{method="GET",service="node",status="200"}' in response.text
    assert "gravity_http_request_duration_seconds_bucket" in response.text


@pytest.mark.usefixtures("peer_only")
async def test_metrics_refused_to_other_addresses(stack: StackEndpoints, key_file: Path) -> None:
    gateway = {"metrics_allow": ["10.0.0.0/8"], "trusted_proxies": ["127.0.0.1/32"]}
    async with node_with(stack, key_file, gateway=gateway) as node, node.client() as client:
        assert_problem(await client.get("/metrics"), 403, "forbidden")
        spoofed = await client.get("/metrics", headers={"X-Forwarded-For": "10.0.0.5"})
        assert_problem(spoofed, 403)
    async with node_with(stack, key_file) as node, node.client() as client:
        forwarded = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 200, "scrape access follows the peer, never X-Forwarded-For"


# --- every route declares its permission ---------------------------------------------------------------------


async def test_every_route_declares_a_permission(node: RunningNode) -> None:
    app = node.node.app
    assert isinstance(app, Litestar)
    handlers = [(route.path, handler) for route in app.routes for handler in getattr(route, "route_handlers", [])]
    assert len(handlers) > 20
    framework = []
    for path, handler in handlers:
        if handler.fn.__module__.startswith("litestar."):
            framework.append((path, handler.http_methods))
            continue
        permission = handler.opt.get("permission")
        assert isinstance(permission, str), f"{path} ({handler}) declares no permission"
        assert permission, path
    assert all(path.startswith("/schema") or methods == {"OPTIONS"} for path, methods in framework), (
        "only the OpenAPI schema and automatic OPTIONS answers are Litestar's own", framework)
    check_route_permissions([handler for _, handler in handlers])


async def test_concurrent_requests_keep_their_own_ids(http: httpx2.AsyncClient) -> None:
    sent = [f"concurrent-{i}" for i in range(20)]
    responses = await asyncio.gather(*(http.get("/api/v1/users/me", headers={"X-Request-ID": s}) for s in sent))
    assert [r.json()["request_id"] for r in responses] == sent
    assert [r.headers["x-request-id"] for r in responses] == sent
