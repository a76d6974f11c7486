"""``stack.json``: what a supervisor publishes about the stack it runs (0600, it holds credentials)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .endpoints import StackEndpoints, StackPorts
from .locking import lock_holder
from .paths import StackPaths, write_private

Phase = Literal["starting", "ready", "stopping", "failed"]
_FORMAT = 1


@dataclass(frozen=True)
class StackState:
    """A supervisor's published state.

    ``endpoints`` is set once the servers answer (``phase == "ready"``); ``processes`` maps each managed
    process to its pid; ``error`` says why a ``"failed"`` supervisor gave up.
    """

    root: Path
    pid: int
    phase: Phase
    ports: StackPorts
    started_at: str
    endpoints: StackEndpoints | None = None
    processes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def begin(cls, root: Path, ports: StackPorts) -> StackState:
        """The state of a supervisor (this process) that is starting now."""
        return cls(root=root, pid=os.getpid(), phase="starting", ports=ports, started_at=_now())

    def advance(self, phase: Phase, **changes: Any) -> StackState:
        """A copy in ``phase`` with ``changes`` applied."""
        return replace(self, phase=phase, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written to ``stack.json``."""
        data: dict[str, Any] = {
            "format": _FORMAT,
            "root": str(self.root),
            "pid": self.pid,
            "state": self.phase,
            "started_at": self.started_at,
            "ports": self.ports.as_dict(),
            "processes": self.processes,
            "error": self.error,
        }
        if self.endpoints is not None:
            data.update(self.endpoints.to_dict())
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackState:
        """Parse a ``stack.json`` document."""
        ports = StackPorts(**{name: int(port) for name, port in data["ports"].items()})
        endpoints = StackEndpoints.from_dict(data) if "postgres_dsn" in data else None
        return cls(
            root=Path(data["root"]),
            pid=int(data["pid"]),
            phase=data["state"],
            ports=ports,
            started_at=str(data["started_at"]),
            endpoints=endpoints,
            processes={name: int(pid) for name, pid in data.get("processes", {}).items()},
            error=data.get("error"),
        )


def write_state(state: StackState) -> None:
    """Publish ``state`` atomically in ``root/stack.json``."""
    write_private(StackPaths.at(state.root).state_file, json.dumps(state.to_dict(), indent=2) + "\n")


def load_state(root: Path | str) -> StackState | None:
    """Whatever ``stack.json`` says, live or not (e.g. to show why a supervisor failed)."""
    try:
        data = json.loads(StackPaths.at(root).state_file.read_text(encoding="utf-8"))
        return StackState.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_state(root: Path | str) -> StackState | None:
    """The state of the live supervisor of ``root``, or None if none runs (a stale file is ignored)."""
    paths = StackPaths.at(root)
    holder = lock_holder(paths.supervisor_lock)
    if holder is None:
        return None
    state = load_state(paths.root)
    return state if state is not None and state.pid == holder and state.phase != "failed" else None


def remove_state(root: Path | str) -> None:
    """Delete ``stack.json`` if present."""
    StackPaths.at(root).state_file.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
