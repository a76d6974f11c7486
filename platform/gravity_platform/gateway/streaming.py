"""Streaming bodies to a service on another node over HTTP (core NATS has no flow control for large payloads).

A service lists the routes that stream (`streamed_routes`: methods and a path pattern) and offers a `locate`
bus endpoint answering its instance's internal URL; NATS picks the instance (queue group), so discovery and
load balancing stay NATS's. The gateway then streams the request body up and the response body down, a chunk
at a time, and signs what it vouches for (the client address) with a key derived from the master key; the
bearer token travels as sent and the other node verifies it itself."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx2
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from gravity_platform.kernel.errors import BadRequestError, GatewayTimeoutError, ServiceUnavailableError
from gravity_platform.kernel.forwarding import forwarding_headers
from gravity_platform.kernel.observability import REQUEST_ID_HEADER, trace_headers

if TYPE_CHECKING:
    from gravity_platform.kernel.node import Node
    from gravity_platform.kernel.plugins import Service

_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
                          "proxy-authorization", "proxy-authenticate", "host"})
_NOT_RELAYED = _HOP_HEADERS | {REQUEST_ID_HEADER.lower(), "x-correlation-id"}
_NOT_RELAYED_BACK = _NOT_RELAYED | {"date", "server"}  # this server's own go out instead


class ClientGoneError(Exception):
    """The client disconnected while its body was being relayed."""


def streamed_route(service: Service, method: str, path: str) -> bool:
    """Whether `service` wants this request proxied over HTTP rather than NATS."""
    routes = service.streamed_routes
    return any(method.upper() in methods and re.match(pattern, path) for methods, pattern in routes)


class StreamingProxy:
    """The gateway's HTTP client to other nodes (one connection pool per node process)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._client: httpx2.AsyncClient | None = None

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            timeout = httpx2.Timeout(connect=5.0, read=self.node.settings.gateway.request_timeout, write=60.0,
                                     pool=5.0)
            self._client = httpx2.AsyncClient(timeout=timeout, follow_redirects=False)
        return self._client

    async def close(self) -> None:
        """Close pooled connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _locate(self, service: str) -> str:
        answer = json.loads(await self.node.bus.request(service, "locate", b"", timeout=3.0))
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ServiceUnavailableError(f"No instance of the {service} service gave an HTTP address")
        return url.rstrip("/")

    async def forward(self, service: str, request: Request[Any, Any, Any], client: str) -> Response[Any]:
        """Relay `request` to an instance of `service` over HTTP, streaming both bodies."""
        base = await self._locate(service)
        scope = request.scope
        query: bytes = scope.get("query_string", b"")
        path: str = scope["path"]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in _NOT_RELAYED]
        headers += list(trace_headers().items())
        headers += list(forwarding_headers(self.node, request.method, path, query, client).items())
        url = f"{base}{path}" + (f"?{query.decode('latin-1')}" if query else "")
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        outgoing = self._http().build_request(request.method, url, headers=headers,
                                              content=_receive_body(request) if has_body else None)
        try:
            upstream = await self._http().send(outgoing, stream=True)
        except ClientGoneError:
            raise BadRequestError("The client went away before its body arrived") from None
        except httpx2.TimeoutException:
            raise GatewayTimeoutError(f"The {service} service did not answer in time") from None
        except httpx2.TransportError as error:
            raise ServiceUnavailableError(f"The {service} service could not be reached: {error}") from None
        relayed = {k: v for k, v in upstream.headers.multi_items() if k.lower() not in _NOT_RELAYED_BACK}
        media_type = relayed.pop("content-type", None)
        return Stream(_relay(upstream), status_code=upstream.status_code, headers=relayed, media_type=media_type,
                      background=BackgroundTask(upstream.aclose))


async def _receive_body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    while True:
        message: Any = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        body: bytes = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _relay(upstream: httpx2.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
