"""The ASGI middleware every node runs: request context and metrics, then authentication and rate limiting."""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from gravity_platform.kernel.access import AUTH_ERROR_KEY, CLIENT_KEY, PRINCIPAL_KEY, enforce_permission
from gravity_platform.kernel.errors import (
    PROBLEM_JSON,
    GravityError,
    RateLimitedError,
    UnauthorizedError,
    problem_body,
)
from gravity_platform.kernel.forwarding import FORWARDED_SCOPE_KEY
from gravity_platform.kernel.observability import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    bind_ids,
    new_request_id,
    sanitize_id,
)
from gravity_platform.kernel.security import Principal

if TYPE_CHECKING:
    from gravity_platform.kernel.node import Node

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_ID_HEADERS = frozenset({REQUEST_ID_HEADER.lower().encode(), CORRELATION_ID_HEADER.lower().encode()})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class Networks:
    """A set of CIDRs, e.g. the trusted proxies or the addresses allowed to scrape metrics."""

    def __init__(self, cidrs: list[str]) -> None:
        self._networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def __contains__(self, address: object) -> bool:
        if not self._networks:  # e.g. no trusted proxies: skip parsing the address on every request
            return False
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


def client_address(scope: Scope, trusted: Networks) -> str:
    """The real client: the peer, or — only when the peer is a trusted proxy — the nearest untrusted
    address in its X-Forwarded-For chain."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if scope.get(FORWARDED_SCOPE_KEY) or peer not in trusted:
        return str(peer)
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return str(peer)
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted:
            return hop
    return str(peer)


class RequestContextMiddleware:
    """Assigns the request ID (a sane client-sent one is kept), echoes it, and records metrics."""

    def __init__(self, app: ASGIApp, node: Node) -> None:
        self.app = app
        self.node = node
        self.trusted = Networks(node.settings.gateway.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = sanitize_id(_header(scope, b"x-request-id")) or new_request_id()
        bind_ids(request_id, sanitize_id(_header(scope, b"x-correlation-id")))
        scope[CLIENT_KEY] = client_address(scope, self.trusted)  # type: ignore[literal-required]
        started = time.perf_counter()
        status = 500
        extra = [(REQUEST_ID_HEADER.lower().encode(), request_id.encode())]
        correlation = _header(scope, b"x-correlation-id")
        if correlation and sanitize_id(correlation):
            extra.append((CORRELATION_ID_HEADER.lower().encode(), correlation.encode()))

        preflight = scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if preflight and status == 400:  # CORS refused the preflight: answer as a problem, not plain text
                    status = 403
                    return
                # A copy, never the message itself: Litestar's response cache keeps that object, and a cached
                # answer must not carry (or replay) another request's ID.
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _ID_HEADERS]
                message = {**message, "headers": [*kept, *extra]}
            elif preflight and status == 403 and message["type"] == "http.response.body":
                await _send_refused_preflight(send, message.get("body", b""), extra)
                return
            await send(message)

        metrics = self.node.metrics
        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.in_flight.dec()
            metrics.observe("node", str(scope.get("method", "")), status, started)


async def _send_refused_preflight(send: Send, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    detail = reason.decode("utf-8", "replace") or "Disallowed CORS request"
    body = msgspec.json.encode(problem_body(403, "cors-refused", "Cross-origin request refused", detail))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()), *headers]}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class AuthRateLimitMiddleware:
    """Verifies a bearer token when one is sent, checks the deny-list, rate-limits by subject or client address,
    then enforces the route's declared permission.

    Neither check waits on Valkey: the deny-list and the rate limiter decide from this node's memory, which
    they keep in step with Valkey and the other nodes in the background (`kernel.denylist`, `kernel.ratelimit`)."""

    def __init__(self, app: ASGIApp, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            if scope["path"] not in UNLIMITED_PATHS:
                await self._authenticate(scope)
                if not scope.get(FORWARDED_SCOPE_KEY):
                    self._limit(scope)
            enforce_permission(scope, scope["route_handler"])
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        """Set the principal (or the reason there is none)."""
        scope[PRINCIPAL_KEY] = None  # type: ignore[literal-required]
        authorization = _header(scope, b"authorization")
        if not authorization or authorization[:7].lower() != "bearer ":
            return
        try:
            principal = await self.node.verifier.verify(authorization[7:].strip())
            if self.node.deny_list.denies(principal.token_id, principal.session_id, principal.subject,
                                          principal.issued_at):
                raise UnauthorizedError("The access token has been revoked")
        except GravityError as error:
            scope[AUTH_ERROR_KEY] = error  # type: ignore[literal-required]
            return
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]

    def _limit(self, scope: Scope) -> None:
        """Rate-limit by subject (a valid, not revoked token) or else by client address."""
        gateway = self.node.settings.gateway
        principal: Principal | None = scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
        if principal is not None:
            key, limit, kind = f"sub:{principal.subject}", gateway.rate_limit_per_minute, "subject"
        else:
            key, limit, kind = f"ip:{scope.get(CLIENT_KEY)}", gateway.anonymous_rate_limit_per_minute, "address"
        decision = self.node.rate_limiter.admit(key, limit)
        if not decision.allowed:
            self.node.metrics.rate_limited.labels(kind).inc()
            raise RateLimitedError(decision.retry_after, f"Rate limit of {limit} requests a minute exceeded")


def scope_value(scope: Any, key: str) -> Any:
    """Read one of the values the middleware put in the ASGI scope."""
    return scope.get(key)
