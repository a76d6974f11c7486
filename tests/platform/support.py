"""Small helpers shared by the platform tests (assertions on problem documents, token claims, timing)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.parser
import email.policy
import json
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import nats
import nats.errors
import valkey.asyncio
from nats.js.api import DeliverPolicy

from gravity_platform.devstack import DevStack, ManagedProcess, StackEndpoints, StackPorts
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.harness import RunningNode, make_settings, running_node

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_problem(response: httpx2.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Check an RFC 9457 answer: media type, members, and the request ID matching the response header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:gravity:error:")
    if code is not None:
        assert body["type"] == f"urn:gravity:error:{code}"
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def token_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT, for looking at what the server put in it."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


async def away_from_window_edge(window: int = 60, margin: float = 3.0) -> None:
    """Fixed-window rate limits reset on window boundaries: start a burst well inside one window."""
    remaining = window - time.time() % window
    if remaining < margin:
        await asyncio.sleep(remaining + 0.05)


def valkey_db(stack: StackEndpoints, db: int) -> str:
    """The stack's Valkey URL with another logical database (keeps a test's counters to itself)."""
    base, _, _ = stack.valkey_url.rpartition("/")
    return f"{base}/{db}"


@contextlib.asynccontextmanager
async def node_with(stack: StackEndpoints, key_file: Path, *, valkey_database: int | None = None,
                    services: tuple[str, ...] = (), **overrides: Any) -> AsyncIterator[RunningNode]:
    """A node on the session stack with some settings changed; `valkey_database` picks (and empties) its own
    logical Valkey database, so its rate-limit counters start from zero."""
    if valkey_database is not None:
        url = valkey_db(stack, valkey_database)
        overrides["valkey"] = {"url": url}
        client = valkey.asyncio.Valkey.from_url(url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()
    settings: GravitySettings = make_settings(stack, key_file, **overrides)
    async with running_node(settings, services) as node:
        yield node


async def superuser_fetch(stack: StackEndpoints, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run a query as the stack's PostgreSQL superuser (to look at tables no service role may read)."""
    connection = await asyncpg.connect(stack.postgres_dsn)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


SERVE = """
import asyncio, sys
from gravity_platform.kernel.server import serve
from gravity_platform.kernel.settings import GravitySettings
asyncio.run(serve(GravitySettings(), host="127.0.0.1", port=int(sys.argv[1]), drain_delay=0.0))
"""
"""A node process the way `gravity serve` runs one, configured through GRAVITY_* variables."""


async def spawn_node(devstack: DevStack, name: str, port: int, key_file: Path, **env: str) -> ManagedProcess:
    """Run a node as a process of `devstack` (stopped with it, by SIGTERM) and wait until it answers /healthz.

    A node with another database than the session node's must run in its own process: each service's
    database handle is one per process."""
    environment = {**devstack.endpoints.as_env(), "GRAVITY_MASTER_KEY_FILE": str(key_file),
                   "GRAVITY_PROJECT_DIR": str(key_file.parent), "GRAVITY_PUBLIC_URL": "http://gravity.test",
                   "GRAVITY_CONFIG": str(key_file.parent / "no-such.toml"), "GRAVITY_NODE_NAME": name,
                   "GRAVITY_LOG_LEVEL": "info", **env}
    process = await devstack.spawn(name, [sys.executable, "-c", SERVE, str(port)], env=environment)
    deadline = time.monotonic() + 60
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
        while True:
            if not process.running:
                log = devstack.paths.log(name).read_text()[-3000:]
                raise AssertionError(f"the node exited with {process.returncode}:\n{log}")
            with contextlib.suppress(httpx2.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return process
            assert time.monotonic() < deadline, "the node never answered"
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def extra_stack(root: Path, *, durable: bool = False) -> AsyncIterator[DevStack]:
    """Another embedded stack on free ports, for tests that must not share NATS or data with the session."""
    devstack = DevStack(root, ports=StackPorts.free(), durable=durable)
    await devstack.start()
    try:
        yield devstack
    finally:
        await devstack.stop()


def byte_ranges(response: httpx2.Response) -> list[tuple[str, bytes]]:
    """The parts of a `multipart/byteranges` answer as (Content-Range, bytes), read by the standard library's
    MIME parser rather than by anything the server shares."""
    assert response.status_code == 206, response.text
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    head = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + response.content)
    assert message.is_multipart() and not message.defects, message.defects
    parts = []
    for part in message.iter_parts():
        body = part.get_payload(decode=True)
        assert isinstance(body, bytes)
        parts.append((str(part["Content-Range"]), body))
    return parts


Event = dict[str, Any]


async def stored_events(nats_url: str, subject: str, match: Callable[[Event], bool]) -> list[Event]:
    """Every event JetStream holds on `subject` (from the first) whose JSON document `match`es, read until half a
    second passes without another."""
    connection = await nats.connect(nats_url)
    try:
        subscription = await connection.jetstream().subscribe(subject, ordered_consumer=True,
                                                              deliver_policy=DeliverPolicy.ALL)
        found: list[Event] = []
        while True:
            try:
                message = await subscription.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return found
            document: Event = json.loads(message.data)
            if match(document):
                found.append(document)
    finally:
        await connection.close()


async def relayed_events(nats_url: str, subject: str, match: Callable[[Event], bool], *,
                         wait: float = 20.0) -> list[Event]:
    """`stored_events`, read again until at least one matches (the outbox relays within a second or so) or
    `wait` seconds pass (then none, and the caller's assertion says what was missing)."""
    deadline = time.monotonic() + wait
    while True:
        found = await stored_events(nats_url, subject, match)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)
