"""Ports the dev stack listens on and the URLs clients use to reach it."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .credentials import NATS_USER, POSTGRES_USER, StackSecrets
from .errors import PortInUseError

HOST = "127.0.0.1"
DATABASE = "gravity"


@dataclass(frozen=True)
class StackPorts:
    """TCP ports on 127.0.0.1; the defaults avoid the engines' usual ports so system services do not clash."""

    postgres: int = 55432
    nats: int = 54222
    valkey: int = 56379

    def __post_init__(self) -> None:
        ports = self.as_dict()
        for name, port in ports.items():
            if not 0 < port < 65536:
                raise ValueError(f"{name} port {port} is not a valid TCP port")
        if len(set(ports.values())) != len(ports):
            raise ValueError(f"ports must differ: {ports}")

    @classmethod
    def free(cls) -> StackPorts:
        """Three ports the kernel reports free right now (for tests and throwaway stacks)."""
        with ExitStack() as stack:
            sockets = [stack.enter_context(socket.socket()) for _ in range(3)]
            for sock in sockets:
                sock.bind((HOST, 0))
            postgres, nats, valkey = (sock.getsockname()[1] for sock in sockets)
        return cls(postgres=postgres, nats=nats, valkey=valkey)

    @classmethod
    def parse(cls, text: str) -> StackPorts:
        """Parse ``"postgres,nats,valkey"``, e.g. ``"55432,54222,56379"``."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise ValueError(f"expected three comma-separated ports 'postgres,nats,valkey', got {text!r}")
        return cls(postgres=int(parts[0]), nats=int(parts[1]), valkey=int(parts[2]))

    def as_arg(self) -> str:
        """The ``"postgres,nats,valkey"`` form read by :meth:`parse`."""
        return f"{self.postgres},{self.nats},{self.valkey}"

    def as_dict(self) -> dict[str, int]:
        """``{"postgres": ..., "nats": ..., "valkey": ...}``."""
        return {"postgres": self.postgres, "nats": self.nats, "valkey": self.valkey}

    def ensure_free(self) -> None:
        """Raise :class:`PortInUseError` naming the first port something already listens on."""
        for name, port in self.as_dict().items():
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((HOST, port))
                except OSError as exc:
                    raise PortInUseError(name, port) from exc


@dataclass(frozen=True)
class StackEndpoints:
    """How to reach a running dev stack; every URL carries its credentials."""

    ports: StackPorts
    postgres_dsn: str
    nats_url: str
    valkey_url: str

    @classmethod
    def build(cls, ports: StackPorts, secrets: StackSecrets) -> StackEndpoints:
        """Endpoints for a stack on ``ports`` using ``secrets``."""
        return cls(
            ports=ports,
            postgres_dsn=f"postgresql://{POSTGRES_USER}:{quote(secrets.postgres_password, safe='')}"
            f"@{HOST}:{ports.postgres}/{DATABASE}",
            nats_url=f"nats://{NATS_USER}:{quote(secrets.nats_password, safe='')}@{HOST}:{ports.nats}",
            valkey_url=f"valkey://:{quote(secrets.valkey_password, safe='')}@{HOST}:{ports.valkey}/0",
        )

    def __repr__(self) -> str:
        ports = ", ".join(f"{name}=127.0.0.1:{port}" for name, port in self.ports.as_dict().items())
        return f"StackEndpoints({ports}, credentials redacted)"

    @property
    def postgres_port(self) -> int:
        return self.ports.postgres

    @property
    def nats_port(self) -> int:
        return self.ports.nats

    @property
    def valkey_port(self) -> int:
        return self.ports.valkey

    def as_env(self) -> dict[str, str]:
        """The platform settings (``GRAVITY_*``, nested with ``__``) pointing a node at this stack; the
        supervisor hands them to its managed process ``node``."""
        return {
            "GRAVITY_DATABASE__URL": self.postgres_dsn,
            "GRAVITY_NATS__URL": self.nats_url,
            "GRAVITY_VALKEY__URL": self.valkey_url,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (inverse of :meth:`from_dict`)."""
        return {
            "ports": self.ports.as_dict(),
            "postgres_dsn": self.postgres_dsn,
            "nats_url": self.nats_url,
            "valkey_url": self.valkey_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackEndpoints:
        """Rebuild endpoints from :meth:`to_dict` output."""
        return cls(
            ports=StackPorts(**{key: int(value) for key, value in data["ports"].items()}),
            postgres_dsn=str(data["postgres_dsn"]),
            nats_url=str(data["nats_url"]),
            valkey_url=str(data["valkey_url"]),
        )
