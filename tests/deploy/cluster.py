"""The three-host cluster the cluster tests share, and a client that keeps requests flowing through the edges."""

from __future__ import annotations

import json
import shlex
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2

from gravity_sdk import Gravity

from .helpers import tls_request
from .hosts import Host

PASSWORD = "correct horse battery staple"
PATRONI_TLS = "/etc/postgresql/tls"
"""The host certificate, key and CA Patroni's REST API uses (PostgreSQL's)."""


@dataclass
class Cluster:
    """Three converged hosts, their secrets, and every write the platform acknowledged so far."""

    hosts: list[Host]
    inventory: Path
    secrets: dict[str, str]
    acknowledged: list[str] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        """The internal CA that signed the edges' certificates."""
        return self.inventory.parent / "pki" / "ca.crt"

    def missing_writes(self, primary: Host) -> list[str]:
        """The acknowledged registrations (emails) the database on ``primary`` does not hold."""
        if not self.acknowledged:
            return []
        sql = "select e from unnest(string_to_array(:'emails', ',')) as e except select email from auth.credential;"
        emails = shlex.quote(",".join(self.acknowledged))
        result = primary.ssh(f"sudo -u postgres psql -d gravity -XAt -v emails={emails}", input=sql)
        return sorted(result.stdout.split())


def sql_on(host: Host, sql: str, database: str = "gravity") -> str:
    """Run SQL as the postgres superuser on ``host`` over the local socket."""
    command = f"sudo -u postgres psql -d {database} -XAtc {shlex.quote(sql)}"
    return host.ssh(command).stdout.strip()


def patroni_cluster(host: Host) -> dict[str, dict[str, Any]]:
    """Patroni's view of the cluster (GET /cluster on ``host``), by member name."""
    answer = tls_request(host, f"https://{host.ip}:8008/cluster", PATRONI_TLS, client_cert=False)
    assert answer.get("status") == 200, answer
    return {member["name"]: member for member in json.loads(answer["body"])["members"]}


@contextmanager
def edge_client(cluster: Cluster, host: Host, *, timeout: float = 30.0) -> Iterator[Gravity]:
    """An SDK client talking to ``host``'s edge over TLS (internal CA), without retries."""
    trust = ssl.create_default_context(cafile=cluster.ca_file)
    with (
        httpx2.Client(verify=trust, timeout=timeout) as http,
        Gravity(base_url=f"https://{host.ip}", http_client=http, max_retries=0) as client,
    ):
        yield client


def register_through(client: Gravity, tag: str) -> str:
    """Register a new user through ``client``; return its email."""
    email = f"{tag}-{time.time_ns()}@example.com"
    client.auth.register(email=email, password=PASSWORD)
    return email


@dataclass
class _Request:
    kind: str
    edge: str
    started: float
    ended: float
    error: str | None


class Traffic:
    """Background clients: a writer registering users round-robin through ``edges`` (recording every
    acknowledged email) and, with ``reads``, a reader asking for /users/me. Every request is recorded."""

    def __init__(self, cluster: Cluster, edges: Sequence[Host], *, reads: bool) -> None:
        self.cluster = cluster
        self.edges = list(edges)
        self.reads = reads
        self.requests: list[_Request] = []
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Traffic:
        self._threads = [threading.Thread(target=self._write, daemon=True)]
        if self.reads:
            self._threads.append(threading.Thread(target=self._read, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    @property
    def ok(self) -> int:
        """Requests that succeeded."""
        return sum(request.error is None for request in self.requests)

    @property
    def failures(self) -> list[str]:
        """The failed requests, described."""
        return [f"{r.kind} via {r.edge} at +{r.started:.1f}: {r.error}" for r in self.requests if r.error]

    def first_success_started_after(self, moment: float) -> float:
        """When the first write that began after ``moment`` was acknowledged (0.0: none yet)."""
        ends = [r.ended for r in self.requests if r.kind == "write" and r.error is None and r.started >= moment]
        return min(ends) if ends else 0.0

    def _record(self, kind: str, edge: Host, started: float, error: BaseException | None) -> None:
        described = None if error is None else f"{type(error).__name__}: {str(error)[:200]}"
        self.requests.append(_Request(kind, edge.name, started, time.monotonic(), described))

    def _write(self) -> None:
        with contextmanager_stack(self.cluster, self.edges) as clients:
            turn = 0
            while not self._stop.is_set():
                edge, client = clients[turn % len(clients)]
                turn += 1
                started = time.monotonic()
                try:
                    email = register_through(client, f"w{turn}")
                except Exception as error:  # every failure is recorded and asserted on
                    self._record("write", edge, started, error)
                    time.sleep(0.2)
                    continue
                self.acknowledged.append(email)
                self._record("write", edge, started, None)
                time.sleep(0.1)

    def _read(self) -> None:
        with contextmanager_stack(self.cluster, self.edges) as clients:
            email = ""
            while not email and not self._stop.is_set():
                started = time.monotonic()
                try:
                    email = register_through(clients[0][1], "reader")
                except Exception as error:  # recorded: a failed request like any other
                    self._record("write", clients[0][0], started, error)
                    time.sleep(0.5)
            if email:
                self.acknowledged.append(email)
            signed_in = 0.0
            turn = 0
            while not self._stop.is_set():
                edge, client = clients[turn % len(clients)]
                turn += 1
                started = time.monotonic()
                try:
                    if started - signed_in > 120:  # well inside the access token's lifetime
                        for _, each in clients:
                            each.auth.login(email=email, password=PASSWORD)
                        signed_in = started
                    client.users.me()
                except Exception as error:  # every failure is recorded and asserted on
                    self._record("read", edge, started, error)
                else:
                    self._record("read", edge, started, None)
                time.sleep(0.1)


@contextmanager
def contextmanager_stack(cluster: Cluster, edges: Sequence[Host]) -> Iterator[list[tuple[Host, Gravity]]]:
    """One SDK client per edge."""
    with ExitStack() as stack:
        yield [(edge, stack.enter_context(edge_client(cluster, edge))) for edge in edges]
