"""HTTP requests carried over NATS request/reply: the gateway side and the serving side.

The gateway wraps a request for a service on another node in an envelope; that node replays it
through its own app in-process (marked as forwarded, so it is not rate-limited twice) and replies."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response

from gravity_platform.kernel.access import CLIENT_KEY
from gravity_platform.kernel.bus import bind_request_headers
from gravity_platform.kernel.errors import GravityError, PayloadTooLargeError, problem_body
from gravity_platform.kernel.observability import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, trace_headers

if TYPE_CHECKING:
    from nats.micro.request import Request as MicroRequest

    from gravity_platform.kernel.node import Node

FORWARDED_SCOPE_KEY = "gravity_forwarded"
_ENVELOPE_ROOM = 64 * 1024
_TRACE_HEADERS = frozenset({REQUEST_ID_HEADER.lower(), CORRELATION_ID_HEADER.lower()})
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
                          "proxy-authorization", "proxy-authenticate", "host", "content-length"})


class HttpEnvelope(msgspec.Struct, array_like=True):
    """A request crossing to another node."""

    method: str
    path: str
    query: bytes
    headers: list[tuple[str, str]]
    body: bytes
    client: str


class HttpReply(msgspec.Struct, array_like=True):
    """The answer coming back."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


_encode = msgspec.msgpack.Encoder().encode
_decode_envelope = msgspec.msgpack.Decoder(HttpEnvelope).decode
_decode_reply = msgspec.msgpack.Decoder(HttpReply).decode


async def forward(node: Node, service: str, request: Request[Any, Any, Any], client: str) -> Response[bytes]:
    """Send `request` to an instance of `service` on another node and relay its answer."""
    body = await request.body()
    limit = node.bus.max_payload - _ENVELOPE_ROOM
    if len(body) > limit:
        raise PayloadTooLargeError(f"Bodies over {limit} bytes cannot be forwarded to another node")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]
               if k.decode("latin-1").lower() not in _HOP_HEADERS | _TRACE_HEADERS]
    headers += list(trace_headers().items())
    envelope = HttpEnvelope(request.method, request.url.path, request.scope.get("query_string", b""),
                            headers, body, client)
    reply = _decode_reply(await node.bus.request(service, "http", _encode(envelope),
                                                 timeout=node.settings.gateway.request_timeout))
    response_headers = {k: v for k, v in reply.headers if k.lower() not in _HOP_HEADERS | {REQUEST_ID_HEADER.lower()}}
    media_type = response_headers.pop("content-type", None)
    return Response(reply.body, status_code=reply.status, headers=response_headers, media_type=media_type)


def http_endpoint(node: Node, service: str) -> Any:
    """The NATS endpoint `gravity.<service>.http`: replay a forwarded request through this node's app."""

    async def serve(message: MicroRequest) -> None:
        bind_request_headers(message.headers)
        try:
            envelope = _decode_envelope(message.data)
            reply = await _replay(node, envelope)
        except (msgspec.DecodeError, msgspec.ValidationError):
            body = problem_body(400, "bad-request", "Bad request", "Malformed forwarded request")
            reply = HttpReply(400, [("content-type", "application/problem+json")], msgspec.json.encode(body))
        except GravityError as error:
            body = problem_body(error.status, error.code, error.title, error.detail)
            reply = HttpReply(error.status, [("content-type", "application/problem+json")], msgspec.json.encode(body))
        await message.respond(_encode(reply))

    return serve


async def _replay(node: Node, envelope: HttpEnvelope) -> HttpReply:
    if node.app is None:
        raise GravityError("node is not ready")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": envelope.method,
        "scheme": "http", "path": envelope.path, "raw_path": envelope.path.encode(), "query_string": envelope.query,
        "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in envelope.headers],
        "client": (envelope.client, 0), "server": ("nats", 0), FORWARDED_SCOPE_KEY: True,
    }
    sent_body = False
    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if sent_body:
            return {"type": "http.disconnect"}
        sent_body = True
        return {"type": "http.request", "body": envelope.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.extend((k.decode(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await node.app(scope, receive, send)  # type: ignore[arg-type]
    return HttpReply(status, headers, b"".join(chunks))


FORWARDED_CLIENT_HEADER = "x-gravity-forwarded-client"
FORWARDED_SIGNATURE_HEADER = "x-gravity-forwarded-signature"
FORWARDED_TTL = 60
"""Seconds a gateway's signature on a request it proxies over HTTP stays valid."""


def _forwarding_mac(node: Node, method: str, path: str, query: bytes, client: str, expires: int) -> str:
    key = node.master_key.derive("gateway:http-forwarding")
    message = b"\n".join([method.upper().encode(), path.encode(), query, client.encode(), str(expires).encode()])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def forwarding_headers(node: Node, method: str, path: str, query: bytes, client: str) -> dict[str, str]:
    """Headers by which a gateway vouches for a request it proxies over HTTP to another node: the real client
    address, signed (with a key derived from the master key) together with the method, path and query."""
    expires = int(time.time()) + FORWARDED_TTL
    mac = _forwarding_mac(node, method, path, query, client, expires)
    return {FORWARDED_CLIENT_HEADER: client, FORWARDED_SIGNATURE_HEADER: f"{expires}.{mac}"}


class TrustForwardedMiddleware:
    """On the receiving node: a request a gateway proxied over HTTP and signed counts as forwarded (not
    rate-limited twice; its client address is the gateway's word). The bearer token is verified here again as
    usual. Unsigned or wrongly signed requests are treated as any other, and the headers never reach handlers."""

    def __init__(self, app: Any, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            client = signature = None
            for key, value in headers:
                if key == FORWARDED_CLIENT_HEADER.encode():
                    client = value.decode("latin-1")
                elif key == FORWARDED_SIGNATURE_HEADER.encode():
                    signature = value.decode("latin-1")
            if client is not None or signature is not None:
                scope["headers"] = [(k, v) for k, v in headers
                                    if k not in (FORWARDED_CLIENT_HEADER.encode(), FORWARDED_SIGNATURE_HEADER.encode())]
                if client is not None and signature is not None and self._valid(scope, client, signature):
                    scope[FORWARDED_SCOPE_KEY] = True
                    scope[CLIENT_KEY] = client
        await self.app(scope, receive, send)

    def _valid(self, scope: Any, client: str, signature: str) -> bool:
        expires_text, _, mac = signature.partition(".")
        if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 12) \
                or int(expires_text) < time.time():
            return False
        expected = _forwarding_mac(self.node, scope["method"], scope["path"], scope.get("query_string", b""), client,
                                   int(expires_text))
        return hmac.compare_digest(expected, mac)
