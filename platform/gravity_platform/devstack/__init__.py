"""The embedded dev stack: real PostgreSQL, NATS (JetStream) and Valkey from pip wheels, for ``gravity dev``
and for tests, supervised so that nothing outlives the supervisor.

In-process use::

    async with DevStack(Path(".gravity"), ports=StackPorts.free(), durable=False) as stack:
        stack.endpoints.postgres_dsn

As a detached supervisor (what ``gravity dev up`` does)::

    state = launch_supervisor(".gravity", command=["gravity", "serve"])
    read_state(".gravity"); stop_supervisor(".gravity"); reset(".gravity")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control import launch_supervisor, reset, stop_supervisor
    from .endpoints import StackEndpoints, StackPorts
    from .errors import BinaryNotFoundError, PortInUseError, ServerStartError, StackBusyError, StackError
    from .paths import DEFAULT_ROOT_NAME, StackPaths
    from .process import ManagedProcess
    from .stack import DevStack
    from .state import StackState, load_state, read_state

_HOMES = {
    "launch_supervisor": "control", "reset": "control", "stop_supervisor": "control",
    "StackEndpoints": "endpoints", "StackPorts": "endpoints",
    "BinaryNotFoundError": "errors", "PortInUseError": "errors", "ServerStartError": "errors",
    "StackBusyError": "errors", "StackError": "errors",
    "DEFAULT_ROOT_NAME": "paths", "StackPaths": "paths", "ManagedProcess": "process", "DevStack": "stack",
    "StackState": "state", "load_state": "state", "read_state": "state",
}
"""Where each public name lives: imported on first use, so light users (the mail catcher process, the CLI
reading ports) do not load the engines' client libraries."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_ROOT_NAME",
    "BinaryNotFoundError",
    "DevStack",
    "ManagedProcess",
    "PortInUseError",
    "ServerStartError",
    "StackBusyError",
    "StackEndpoints",
    "StackError",
    "StackPaths",
    "StackPorts",
    "StackState",
    "launch_supervisor",
    "load_state",
    "read_state",
    "reset",
    "stop_supervisor",
]
