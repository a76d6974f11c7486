"""Managed child processes: a log file each, their own process group, a parent-death signal, orderly stop."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .errors import StackError
from .paths import PRIVATE_FILE_MODE

logger = logging.getLogger("gravity.devstack")

_PR_SET_PDEATHSIG = 1
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class ManagedProcess:
    """A running child of the dev stack.

    It leads its own process group (a terminal's Ctrl-C reaches only the supervisor, which stops children
    in order), writes stdout and stderr to its log file and receives ``stop_signal`` from the kernel if the
    supervising process dies, so it never outlives it.
    """

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        log_path: Path,
        stop_signal: signal.Signals,
        signal_group: bool,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._process = process
        self._signal_group = signal_group

    def __repr__(self) -> str:
        return f"ManagedProcess(name={self.name!r}, pid={self.pid}, returncode={self.returncode})"

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def running(self) -> bool:
        return self._process.returncode is None

    async def wait(self) -> int:
        """Wait for the process to exit and return its exit status (negative: killed by that signal)."""
        return await self._process.wait()

    def send_signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        """Send ``sig`` to the process, or to its whole process group; no-op once it has exited."""
        if self._process.returncode is not None:
            return
        try:
            if group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    async def stop(self, timeout: float = 10.0) -> int:
        """Send the stop signal, wait up to ``timeout`` seconds, then SIGKILL the process group."""
        if self.running:
            self.send_signal(self.stop_signal, group=self._signal_group)
            try:
                return await asyncio.wait_for(self._process.wait(), timeout)
            except TimeoutError:
                logger.warning("%s did not stop within %.1f s; killing it", self.name, timeout)
                self.send_signal(signal.SIGKILL, group=True)
        return await self._process.wait()


async def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
    signal_group: bool = True,
    header: str = "",
) -> ManagedProcess:
    """Start ``argv`` as a managed child whose output is appended to ``log_path``.

    ``stop_signal`` is sent on stop and is also the parent-death signal (Linux), which the kernel sends when
    the *thread* that started the child ends: asyncio starts children from the event loop's thread, so the
    loop must live as long as they do. ``signal_group`` says whether the stop signal goes to the whole
    process group or only to the process (SIGKILL always goes to the group).
    """
    log_fd = open_log(log_path, f"starting {name}" + (f": {header}" if header else ""))
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            preexec_fn=_parent_death_signal(stop_signal),
        )
    except OSError as exc:
        raise StackError(f"cannot start {name} ({argv[0]}): {exc.strerror or exc}") from exc
    finally:
        os.close(log_fd)
    logger.debug("started %s (pid %d)", name, process.pid)
    return ManagedProcess(name, process, log_path, stop_signal, signal_group)


def open_log(path: Path, banner: str) -> int:
    """Open ``path`` for appending (0600, rotated to ``.1`` past 10 MiB) and write a dated banner line."""
    try:
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    os.write(fd, f"--- gravity devstack {stamp}: {banner}\n".encode())
    return fd


def last_log_line(path: Path) -> str:
    """The last non-empty line of a log file, or ``""``."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _parent_death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    if _LIBC is None:
        return None
    prctl = _LIBC.prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return in_child
