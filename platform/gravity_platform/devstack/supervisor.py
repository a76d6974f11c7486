"""The supervisor process: runs a DevStack (and optionally the platform node) until told to stop.

It publishes ``stack.json`` while it runs, stops everything on SIGTERM, SIGINT or SIGHUP, and stops
everything too (exiting 1) if any managed process exits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from .endpoints import StackPorts
from .errors import StackError
from .locking import FileLock
from .paths import StackPaths
from .stack import DevStack
from .state import StackState, remove_state, write_state

logger = logging.getLogger("gravity.devstack")

_T = TypeVar("_T")
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
NODE = "node"


async def supervise(paths: StackPaths, ports: StackPorts, command: Sequence[str] = (), *, durable: bool = True) -> int:
    """Run the stack in ``paths`` until a stop signal; return the exit status (0 after a requested stop).

    Raises :class:`StackError` (after writing a ``"failed"`` state) when the stack cannot start.
    """
    paths.create()
    lock = FileLock(paths.supervisor_lock)
    lock.acquire("a dev stack supervisor", wait=0.5)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, _request_stop, stop, sig)
    try:
        return await _run(paths, ports, command, durable, stop)
    finally:
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        lock.release()


async def _run(paths: StackPaths, ports: StackPorts, command: Sequence[str], durable: bool, stop: asyncio.Event) -> int:
    state = StackState.begin(paths.root, ports)
    write_state(state)
    stack = DevStack(paths.root, ports=ports, durable=durable)
    failed = False
    try:
        endpoints = await _unless_stopped(stack.start(), stop)
        if endpoints is None:
            return 0
        if command:
            await stack.spawn(NODE, list(command), env=endpoints.as_env())
        processes = {name: process.pid for name, process in stack.processes.items()}
        state = state.advance("ready", endpoints=endpoints, ports=endpoints.ports, processes=processes)
        write_state(state)
        exited = await _unless_stopped(stack.wait_for_exit(), stop)
        write_state(state.advance("stopping"))
        if exited is not None:
            logger.error("%s exited on its own with status %s; stopping the stack", exited.name, exited.returncode)
            return 1
        logger.info("stopping the dev stack")
        return 0
    except StackError as exc:
        failed = True
        write_state(state.advance("failed", error=str(exc)))
        raise
    finally:
        await stack.stop()
        if not failed:
            remove_state(paths.root)


async def _unless_stopped(work: Coroutine[Any, Any, _T], stop: asyncio.Event) -> _T | None:
    """``await work``, unless ``stop`` is set first: then cancel it and return None."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


def _request_stop(stop: asyncio.Event, sig: signal.Signals) -> None:
    if not stop.is_set():
        logger.info("received %s", sig.name)
    stop.set()
