"""What the ``gravity dev`` CLI calls: launch a detached supervisor, stop it, reset a stack's data."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .endpoints import StackPorts
from .errors import StackBusyError, StackError
from .locking import FileLock, is_locked
from .paths import StackPaths
from .pids import is_alive, kill_leftovers
from .process import last_log_line, open_log
from .state import StackState, load_state, read_state, remove_state


def launch_supervisor(
    root: Path | str,
    *,
    ports: StackPorts | None = None,
    command: Sequence[str] = (),
    durable: bool = True,
    timeout: float = 60.0,
) -> StackState:
    """Start ``python -m gravity_platform.devstack supervise`` detached and wait until its stack is ready.

    The supervisor gets its own session (it survives the caller and the terminal) and logs to
    ``logs/supervisor.log``. ``command`` becomes the managed process ``node``. Raises
    :class:`StackBusyError` if a supervisor already runs for ``root`` and :class:`StackError` with the
    supervisor's one-line reason if it fails.
    """
    paths = StackPaths.at(root)
    running = read_state(paths.root)
    if running is not None:
        raise StackBusyError(f"a dev stack is already running for {paths.root} (pid {running.pid})")
    paths.create()
    argv = [sys.executable, "-m", "gravity_platform.devstack", "supervise", "--root", str(paths.root)]
    argv += ["--ports", (ports or StackPorts()).as_arg()]
    argv += [] if durable else ["--no-durable"]
    argv += ["--", *command] if command else []
    log_fd = open_log(paths.log("supervisor"), "launching supervisor")
    try:
        pid = os.posix_spawn(
            sys.executable,
            argv,
            _child_environment(),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
    return _await_ready(paths, pid, timeout)


def stop_supervisor(root: Path | str, timeout: float = 15.0) -> bool:
    """Ask the supervisor of ``root`` to stop (SIGTERM) and wait; SIGKILL it after ``timeout``.

    Its servers stop with it. Returns False if no supervisor was running (a stale state file is removed).
    """
    paths = StackPaths.at(root)
    state = read_state(paths.root)
    if state is None:
        if not is_locked(paths.supervisor_lock):
            remove_state(paths.root)
        return False
    _signal(state.pid, signal.SIGTERM)
    if not _wait_unlocked(paths.supervisor_lock, timeout):
        _signal(state.pid, signal.SIGKILL)
        _wait_unlocked(paths.supervisor_lock, 5.0)
        kill_leftovers(paths.children_file, grace=5.0)
        remove_state(paths.root)
    _reap(state.pid)
    return True


def reset(root: Path | str, timeout: float = 15.0) -> None:
    """Stop the stack of ``root`` if it runs, then delete its data, logs, secrets and state.

    Raises :class:`StackBusyError` if a stack runs there without a supervisor (e.g. in another process).
    """
    paths = StackPaths.at(root)
    stop_supervisor(paths.root, timeout)
    if not paths.root.exists():
        return
    paths.run.mkdir(exist_ok=True)
    lock = FileLock(paths.stack_lock)
    lock.acquire("a dev stack")
    try:
        for folder in (paths.data, paths.logs, paths.secrets):
            shutil.rmtree(folder, ignore_errors=True)
        remove_state(paths.root)
    finally:
        lock.release()
    shutil.rmtree(paths.run, ignore_errors=True)


def _await_ready(paths: StackPaths, pid: int, timeout: float) -> StackState:
    deadline = time.monotonic() + timeout
    while True:
        if _reap(pid):
            state = load_state(paths.root)
            reason = state.error if state is not None and state.pid == pid and state.error else None
            raise StackError(reason or last_log_line(paths.log("supervisor")) or "the supervisor exited")
        state = read_state(paths.root)
        if state is not None and state.pid == pid and state.phase == "ready":
            return state
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGTERM)
            raise StackError(f"the dev stack was not ready within {timeout:.0f} s; see {paths.logs}")
        time.sleep(0.02)


def _child_environment() -> dict[str, str]:
    """This environment, plus the folder holding ``gravity_platform`` when it is not an installed package."""
    env = dict(os.environ)
    source = str(Path(__file__).resolve().parents[2])
    if "site-packages" not in source and source not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (source, env.get("PYTHONPATH"))))
    return env


def _wait_unlocked(lock: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_locked(lock):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> bool:
    """Collect ``pid`` if it is an exited child of this process; True if it has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not is_alive(pid)
    return done == pid
