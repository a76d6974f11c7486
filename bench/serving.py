"""What the two servers under test share, so that they run the same way: the event loop and uvicorn's config.

Both the Gravity node (through ``gravity_platform.kernel.server.serve``) and the bare baseline app are one
uvicorn worker in one process; this module picks the same event loop for both."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

LOOP_ENV = "BENCH_LOOP"
LOOPS = ("uvloop", "asyncio")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop factory for ``name`` (``uvloop`` or ``asyncio``); None means asyncio's default."""
    if name == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    if name == "asyncio":
        return None
    raise SystemExit(f"unknown event loop {name!r}; expected one of {', '.join(LOOPS)}")


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on the loop named by ``$BENCH_LOOP`` (default uvloop)."""
    with asyncio.Runner(loop_factory=loop_factory(os.environ.get(LOOP_ENV, "uvloop"))) as runner:
        runner.run(main)
