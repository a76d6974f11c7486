"""What ``gravity dev`` keeps in a project folder besides the stack's own files.

``dev.json`` remembers the node's port and the stack's ports between ``dev up`` runs, ``admin.json`` that
the first admin was created (never its password), and ``secrets/master.key`` is the platform master key.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gravity_platform.devstack import DEFAULT_ROOT_NAME, StackPorts, StackState, read_state

DEFAULT_PORT = 8080
HOST = "127.0.0.1"
ROOT_ENV = "GRAVITY_PROJECT_DIR"


def default_root() -> Path:
    """The project folder: ``$GRAVITY_PROJECT_DIR`` or ``.gravity`` in the current directory."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT_NAME)


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether nothing listens on ``host:port`` right now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class DevConfig:
    """The choices of the last ``dev up`` in a project folder."""

    port: int = DEFAULT_PORT
    stack_ports: StackPorts = field(default_factory=StackPorts)

    @property
    def url(self) -> str:
        """Where the node answers."""
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class DevProject:
    """A ``gravity dev`` project folder (``.gravity`` by default)."""

    root: Path

    @classmethod
    def at(cls, root: Path | str | None = None) -> DevProject:
        """The project in ``root`` (default: :func:`default_root`), as an absolute path."""
        return cls(Path(root or default_root()).expanduser().absolute())

    @property
    def config_file(self) -> Path:
        return self.root / "dev.json"

    @property
    def admin_file(self) -> Path:
        return self.root / "admin.json"

    @property
    def master_key_file(self) -> Path:
        return self.root / "secrets" / "master.key"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def state(self) -> StackState | None:
        """The live supervisor's state, or None when the stack is not running."""
        return read_state(self.root)

    def load_config(self) -> DevConfig:
        """The remembered choices (defaults when none are remembered or the file is unreadable)."""
        data = _read_json(self.config_file)
        try:
            ports = data.get("stack_ports")
            return DevConfig(
                port=int(data.get("port", DEFAULT_PORT)),
                stack_ports=StackPorts(**{k: int(v) for k, v in ports.items()}) if ports else StackPorts(),
            )
        except (TypeError, ValueError, AttributeError):
            return DevConfig()

    def save_config(self, config: DevConfig) -> None:
        """Remember ``config`` for the next ``dev up``."""
        _write_json(self.config_file, {"port": config.port, "stack_ports": config.stack_ports.as_dict()})

    def admin_record(self) -> dict[str, Any] | None:
        """What ``admin.json`` says about the first admin, or None if none was created yet."""
        return _read_json(self.admin_file) or None

    def save_admin(self, email: str, user_id: str | None) -> None:
        """Remember that the first admin exists (its password is never stored)."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        _write_json(self.admin_file, {"email": email, "id": user_id, "created_at": created})

    def forget(self) -> None:
        """Delete ``dev.json`` and ``admin.json`` (after a reset)."""
        self.config_file.unlink(missing_ok=True)
        self.admin_file.unlink(missing_ok=True)

    def node_environment(self, config: DevConfig) -> dict[str, str]:
        """The settings of the dev node, as the ``GRAVITY_*`` variables the supervisor hands down to it.

        The supervisor adds the stack's own endpoints (``GRAVITY_DATABASE__URL`` and friends).
        """
        return {
            "GRAVITY_ENVIRONMENT": "dev",
            "GRAVITY_PROJECT_DIR": str(self.root),
            "GRAVITY_MASTER_KEY_FILE": str(self.master_key_file),
            "GRAVITY_PUBLIC_URL": config.url,
            "GRAVITY_GATEWAY__HOST": HOST,
            "GRAVITY_GATEWAY__PORT": str(config.port),
            "GRAVITY_LOG_JSON": "true",
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
