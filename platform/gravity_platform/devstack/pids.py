"""Process identity by pid plus start time (immune to pid reuse), and the record of a stack's children."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from .paths import write_private
from .process import ManagedProcess

logger = logging.getLogger("gravity.devstack")


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None if it is gone, a zombie, or unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_alive(pid: int, ticks: int | None = None) -> bool:
    """Whether ``pid`` runs (and, when ``ticks`` is given, is still the process that started then)."""
    if Path("/proc/self/stat").exists():
        current = start_ticks(pid)
        return current is not None and (ticks is None or current == ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_children(path: Path, processes: Iterable[ManagedProcess]) -> None:
    """Write the running children's pids so a later start can clean up after a crashed supervisor."""
    children = {p.name: {"pid": p.pid, "start": start_ticks(p.pid)} for p in processes if p.running}
    write_private(path, json.dumps(children, indent=2) + "\n")


async def reap_leftovers(path: Path, grace: float = 5.0) -> list[str]:
    """:func:`kill_leftovers` without blocking the event loop."""
    return await asyncio.to_thread(kill_leftovers, path, grace)


def kill_leftovers(path: Path, grace: float = 5.0) -> list[str]:
    """Wait up to ``grace`` seconds for, then kill, children recorded by a supervisor that died without
    stopping them (they normally exit on the parent-death signal). Returns the names of those still alive.
    """
    alive = _recorded_alive(path)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(*identity) for identity in alive.values()):
        time.sleep(0.05)
    return _finish(path, alive)


def _recorded_alive(path: Path) -> dict[str, tuple[int, int | None]]:
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: (int(entry["pid"]), entry.get("start"))
        for name, entry in recorded.items()
        if isinstance(entry, dict) and is_alive(int(entry["pid"]), entry.get("start"))
    }


def _finish(path: Path, alive: dict[str, tuple[int, int | None]]) -> list[str]:
    for name, (pid, ticks) in alive.items():
        if is_alive(pid, ticks):
            logger.warning("killing leftover %s (pid %d) of a previous run", name, pid)
            _kill_group(pid)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(is_alive(*identity) for identity in alive.values()):
        time.sleep(0.02)
    path.unlink(missing_ok=True)
    return sorted(alive)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
