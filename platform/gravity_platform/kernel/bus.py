"""NATS: the node's connection, micro endpoints (request/reply), JetStream streams and live broadcasts.

A request to a service hosted on this node is answered in-process, so it still works while NATS is down;
a request to a service elsewhere rides NATS request/reply to that service's queue group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats
import nats.micro
from nats.aio.client import Client
from nats.errors import NoRespondersError, NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import StreamConfig
from nats.micro.request import Request as MicroRequest
from nats.micro.service import Service as MicroService

from gravity_platform.kernel.db import CONNECTION_ERRORS, unavailable
from gravity_platform.kernel.errors import (
    GatewayTimeoutError,
    GravityError,
    RemoteError,
    ServiceUnavailableError,
    ValidationFailedError,
    problem_body,
)
from gravity_platform.kernel.observability import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    bind_ids,
    new_request_id,
    sanitize_id,
    trace_headers,
)

log = logging.getLogger("gravity.bus")

EVENTS_STREAM = "GRAVITY_EVENTS"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
LocalHandler = Callable[[bytes, dict[str, str]], Awaitable[bytes]]


T = TypeVar("T")


def decode_request(payload: bytes, kind: type[T]) -> T:
    """A bus endpoint's JSON request of shape `kind`; a 400 problem for the caller when it is not one."""
    try:
        return msgspec.json.decode(payload, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValidationFailedError(f"Invalid request: {error}") from None


def semver(version: str) -> str:
    """A PEP 440 version as the semantic version NATS micro insists on (`1.2.0.post1` -> `1.2.0-post1`)."""
    match = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$", version)
    if match is None:
        return "0.0.0"
    major, minor, patch, rest = match.groups()
    suffix = re.sub(r"[^0-9A-Za-z.-]", "-", rest.lstrip(".-+_"))
    core = f"{major}.{minor or 0}.{patch or 0}"
    return f"{core}-{suffix}" if suffix else core


def endpoint_subject(service: str, endpoint: str) -> str:
    """The NATS subject of a service endpoint."""
    return f"gravity.{service}.{endpoint}"


class Bus:
    """The node's NATS connection. It connects in the background and reconnects forever."""

    def __init__(self, url: str, *, name: str, request_timeout: float = 10.0, stream_replicas: int = 1) -> None:
        self.url = url
        self.name = name
        self.request_timeout = request_timeout
        self.stream_replicas = stream_replicas
        self.nc: Client | None = None
        self._local: dict[str, LocalHandler] = {}
        self._micro: list[MicroService] = []
        self._pending_micro: list[tuple[str, str, dict[str, str], dict[str, Callable[[MicroRequest], Any]]]] = []
        self._subscriptions: list[tuple[str, Callable[[bytes], Awaitable[None]]]] = []
        self._connector: asyncio.Task[None] | None = None
        self._reconnect_hooks: list[Callable[[], Awaitable[None]]] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._start_returned = False
        self.ready = asyncio.Event()
        self._stopping = False

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts (1 MiB until connected, NATS's default)."""
        return int(self.nc.max_payload) if self.nc is not None and self.nc.is_connected else 1024 * 1024

    @property
    def connected(self) -> bool:
        """Whether NATS answers right now."""
        return self.nc is not None and self.nc.is_connected

    async def start(self) -> None:
        """Begin connecting; waits briefly so a healthy NATS is ready when start-up finishes."""
        self._connector = asyncio.create_task(self._connect_forever(), name="bus-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout=3.0)
        self._start_returned = True

    def add_reconnect_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` (in the background) every time the connection comes back after being lost — and on a
        first connection made only after `start` returned — so state fed by broadcasts, which are lost while
        cut off, can be caught up."""
        self._reconnect_hooks.append(hook)

    def _run_reconnect_hooks(self) -> None:
        for hook in self._reconnect_hooks:
            task = asyncio.create_task(self._run_hook(hook), name="bus-reconnect-hook")
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    @staticmethod
    async def _run_hook(hook: Callable[[], Awaitable[None]]) -> None:
        try:
            await hook()
        except Exception:
            log.exception("nats reconnect hook failed")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    self.url, name=self.name, connect_timeout=2, reconnect_time_wait=1, max_reconnect_attempts=-1,
                    allow_reconnect=True, error_cb=self._on_error, disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect, drain_timeout=5,
                )
                break
            except (NoServersError, OSError, TimeoutError) as error:
                log.warning("nats unavailable, retrying", extra={"error": str(error)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        await self._after_connect()
        self.ready.set()
        if self._start_returned:
            self._run_reconnect_hooks()

    async def _after_connect(self) -> None:
        await self.ensure_stream(EVENTS_STREAM, ["gravity.events.>"])
        for args in self._pending_micro:
            await self._add_micro(*args)
        for topic, callback in self._subscriptions:
            await self._subscribe(topic, callback)

    async def _on_error(self, error: Exception) -> None:
        log.warning("nats error", extra={"error": str(error)})

    async def _on_disconnect(self) -> None:
        if self._stopping:
            return
        log.error("nats disconnected; cross-node requests fail fast until it is back")

    async def _on_reconnect(self) -> None:
        log.info("nats reconnected")
        if not self._stopping:
            self._run_reconnect_hooks()

    async def stop(self) -> None:
        """Stop serving endpoints, flush, and close."""
        self._stopping = True
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        for task in list(self._hook_tasks):
            task.cancel()
        for service in self._micro:
            with contextlib.suppress(Exception):
                await service.stop()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
            self.nc = None

    def register_local(self, service: str, handlers: dict[str, LocalHandler]) -> None:
        """Make a service's endpoints callable in-process only."""
        for name, handler in handlers.items():
            self._local[endpoint_subject(service, name)] = handler

    async def serve(self, service: str, version: str, metadata: dict[str, str],
                    endpoints: dict[str, Callable[[MicroRequest], Any]],
                    local: dict[str, LocalHandler]) -> None:
        """Register a service's endpoints with the NATS micro services API, and locally for in-process calls."""
        self.register_local(service, local)
        args = (service, version, metadata, endpoints)
        self._pending_micro.append(args)
        if self.connected:
            await self._add_micro(*args)

    async def _add_micro(self, service: str, version: str, metadata: dict[str, str],
                         endpoints: dict[str, Callable[[MicroRequest], Any]]) -> None:
        assert self.nc is not None
        micro = await nats.micro.add_service(self.nc, name=f"gravity-{service}", version=semver(version),
                                             description=f"Gravity {service} service",
                                             metadata={**metadata, "version": version},
                                             queue_group=service)
        group = micro.add_group(name=f"gravity.{service}", queue_group=service)
        for name, handler in endpoints.items():
            await group.add_endpoint(name=name, handler=handler)
        self._micro.append(micro)

    async def request(self, service: str, endpoint: str, payload: bytes, *, timeout: float | None = None,
                      headers: dict[str, str] | None = None) -> bytes:
        """Call a service endpoint: in-process if hosted here, else over NATS. Errors come back as GravityErrors."""
        subject = endpoint_subject(service, endpoint)
        all_headers = {**trace_headers(), **(headers or {})}
        local = self._local.get(subject)
        if local is not None:
            return await local(payload, all_headers)
        if not self.connected or self.nc is None:
            raise ServiceUnavailableError(f"The {service} service is on another node and the bus is down")
        try:
            reply = await self.nc.request(subject, payload, timeout=timeout or self.request_timeout,
                                          headers=all_headers)
        except NoRespondersError:
            raise ServiceUnavailableError(f"No instance of the {service} service is running") from None
        except NatsTimeoutError:
            raise GatewayTimeoutError(f"The {service} service did not answer in time") from None
        status = (reply.headers or {}).get(ERROR_CODE_HEADER)
        if status:
            try:
                problem = json.loads(reply.data or b"{}")
            except ValueError:
                problem = {"detail": reply.data.decode(errors="replace")}
            raise RemoteError(int(status), problem)
        return reply.data

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None,
                      headers: dict[str, str] | None = None) -> None:
        """Publish to JetStream (with `Nats-Msg-Id` de-duplication when `msg_id` is given)."""
        if self.nc is None or not self.connected:
            raise ServiceUnavailableError("The bus is down")
        all_headers = {**trace_headers(), **(headers or {})}
        if msg_id:
            all_headers["Nats-Msg-Id"] = msg_id
        await self.nc.jetstream().publish(subject, payload, headers=all_headers)

    async def ensure_stream(self, name: str, subjects: list[str]) -> None:
        """Create or update a JetStream stream (2 minutes of de-duplication)."""
        assert self.nc is not None
        js = self.nc.jetstream()
        config = StreamConfig(name=name, subjects=subjects, duplicate_window=120.0, num_replicas=self.stream_replicas)
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)

    async def broadcast(self, topic: str, payload: bytes) -> None:
        """Tell every node something now (core NATS, `gravity.rt.<topic>`); lost if nobody listens."""
        if self.nc is not None and self.connected:
            await self.nc.publish(f"gravity.rt.{topic}", payload)

    async def subscribe(self, topic: str, callback: Callable[[bytes], Awaitable[None]]) -> None:
        """Receive broadcasts on `gravity.rt.<topic>` on every node (renewed after reconnects)."""
        self._subscriptions.append((topic, callback))
        if self.connected:
            await self._subscribe(topic, callback)

    async def _subscribe(self, topic: str, callback: Callable[[bytes], Awaitable[None]]) -> None:
        assert self.nc is not None

        async def handler(message: Any) -> None:
            try:
                await callback(message.data)
            except Exception:
                log.exception("broadcast handler failed", extra={"topic": topic})

        await self.nc.subscribe(f"gravity.rt.{topic}", cb=handler)


def bind_request_headers(headers: dict[str, str] | None) -> None:
    """Adopt the request/correlation IDs a bus message carries (or start new ones)."""
    headers = headers or {}
    request_id = sanitize_id(headers.get(REQUEST_ID_HEADER)) or new_request_id()
    bind_ids(request_id, sanitize_id(headers.get(CORRELATION_ID_HEADER)))


def micro_handler(service: str, endpoint: str, handler: LocalHandler) -> Callable[[MicroRequest], Any]:
    """Wrap an in-process handler as a NATS micro endpoint handler, mapping errors to service error headers."""

    async def serve(request: MicroRequest) -> None:
        bind_request_headers(request.headers)
        try:
            answer = await handler(request.data, dict(request.headers or {}))
        except GravityError as error:
            status = error.remote_status if isinstance(error, RemoteError) else error.status
            body = error.problem if isinstance(error, RemoteError) else problem_body(
                error.status, error.code, error.title, error.detail, **error.extra)
            await request.respond(json.dumps(body).encode(), headers={ERROR_CODE_HEADER: str(status)})
            return
        except CONNECTION_ERRORS as error:
            down = unavailable(error)
            body = problem_body(down.status, down.code, down.title, down.detail)
            await request.respond(json.dumps(body).encode(), headers={ERROR_CODE_HEADER: str(down.status)})
            return
        except Exception:
            log.exception("bus endpoint failed", extra={"service": service, "endpoint": endpoint})
            await request.respond(b'{"detail": "internal error"}', headers={ERROR_CODE_HEADER: "500"})
            return
        await request.respond(answer)

    return serve
