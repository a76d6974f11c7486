"""Ports the dev stack listens on and the URLs clients use to reach it."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .credentials import NATS_USER, POSTGRES_USER, StackSecrets
from .errors import PortInUseError

HOST = "127.0.0.1"
DATABASE = "gravity"


@dataclass(frozen=True)
class StackPorts:
    """TCP ports on 127.0.0.1; the defaults avoid the engines' usual ports so system services do not clash.

    ``mail`` is the dev mail catcher's SMTP port; 0 (the default) means a free port chosen when the stack
    starts (the node learns it from the stack's endpoints)."""

    postgres: int = 55432
    nats: int = 54222
    valkey: int = 56379
    mail: int = 0

    def __post_init__(self) -> None:
        ports = {name: port for name, port in self.as_dict().items() if not (name == "mail" and port == 0)}
        for name, port in ports.items():
            if not 0 < port < 65536:
                raise ValueError(f"{name} port {port} is not a valid TCP port")
        if len(set(ports.values())) != len(ports):
            raise ValueError(f"ports must differ: {ports}")

    @classmethod
    def free(cls) -> StackPorts:
        """Four ports the kernel reports free right now (for tests and throwaway stacks)."""
        with ExitStack() as stack:
            sockets = [stack.enter_context(socket.socket()) for _ in range(4)]
            for sock in sockets:
                sock.bind((HOST, 0))
            postgres, nats, valkey, mail = (sock.getsockname()[1] for sock in sockets)
        return cls(postgres=postgres, nats=nats, valkey=valkey, mail=mail)

    @classmethod
    def parse(cls, text: str) -> StackPorts:
        """Parse ``"postgres,nats,valkey[,mail]"``, e.g. ``"55432,54222,56379"`` (mail 0 or absent: any free port)."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) not in (3, 4) or not all(part.isdigit() for part in parts):
            raise ValueError(f"expected three or four comma-separated ports 'postgres,nats,valkey[,mail]', "
                             f"got {text!r}")
        mail = int(parts[3]) if len(parts) == 4 else 0
        return cls(postgres=int(parts[0]), nats=int(parts[1]), valkey=int(parts[2]), mail=mail)

    def as_arg(self) -> str:
        """The ``"postgres,nats,valkey,mail"`` form read by :meth:`parse`."""
        return f"{self.postgres},{self.nats},{self.valkey},{self.mail}"

    def as_dict(self) -> dict[str, int]:
        """``{"postgres": ..., "nats": ..., "valkey": ..., "mail": ...}``."""
        return {"postgres": self.postgres, "nats": self.nats, "valkey": self.valkey, "mail": self.mail}

    def with_mail_port(self) -> StackPorts:
        """These ports, with a free port chosen now for the mail catcher if none was given."""
        if self.mail:
            return self
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        return replace(self, mail=port)

    def ensure_free(self) -> None:
        """Raise :class:`PortInUseError` naming the first port something already listens on."""
        for name, port in self.as_dict().items():
            if port == 0:
                continue
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
    mail_dir: str = ""

    @classmethod
    def build(cls, ports: StackPorts, secrets: StackSecrets, *, mail_dir: Path | None = None) -> StackEndpoints:
        """Endpoints for a stack on ``ports`` using ``secrets``; ``mail_dir`` is where the catcher stores mail."""
        return cls(
            ports=ports,
            postgres_dsn=f"postgresql://{POSTGRES_USER}:{quote(secrets.postgres_password, safe='')}"
            f"@{HOST}:{ports.postgres}/{DATABASE}",
            nats_url=f"nats://{NATS_USER}:{quote(secrets.nats_password, safe='')}@{HOST}:{ports.nats}",
            valkey_url=f"valkey://:{quote(secrets.valkey_password, safe='')}@{HOST}:{ports.valkey}/0",
            mail_dir=str(mail_dir or ""),
        )

    @property
    def smtp_url(self) -> str:
        """The dev mail catcher (no credentials: it only listens on loopback)."""
        return f"smtp://{HOST}:{self.ports.mail}" if self.ports.mail else ""

    def email_settings(self) -> dict[str, Any]:
        """The email service's settings (``[service.email]``) sending through the mail catcher."""
        if not self.ports.mail:
            return {}
        options = {"host": HOST, "port": self.ports.mail, "tls": "none", "timeout": 10}
        return {"transport": "smtp", "transport_options": options, "catcher_dir": self.mail_dir}

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
        env = {
            "GRAVITY_DATABASE__URL": self.postgres_dsn,
            "GRAVITY_NATS__URL": self.nats_url,
            "GRAVITY_VALKEY__URL": self.valkey_url,
        }
        for key, value in _flatten("GRAVITY_SERVICE__EMAIL", self.email_settings()):
            env[key] = value
        return env

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (inverse of :meth:`from_dict`)."""
        return {
            "ports": self.ports.as_dict(),
            "postgres_dsn": self.postgres_dsn,
            "nats_url": self.nats_url,
            "valkey_url": self.valkey_url,
            "smtp_url": self.smtp_url,
            "mail_dir": self.mail_dir,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackEndpoints:
        """Rebuild endpoints from :meth:`to_dict` output."""
        return cls(
            ports=StackPorts(**{key: int(value) for key, value in data["ports"].items()}),
            postgres_dsn=str(data["postgres_dsn"]),
            nats_url=str(data["nats_url"]),
            valkey_url=str(data["valkey_url"]),
            mail_dir=str(data.get("mail_dir") or ""),
        )


def _flatten(prefix: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``{"a": {"b": 1}}`` as ``[("PREFIX__A__B", "1")]``, the environment form of nested settings."""
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}__{key.upper()}"
        if isinstance(value, dict):
            pairs += _flatten(name, value)
        else:
            pairs.append((name, str(value)))
    return pairs
