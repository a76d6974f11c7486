"""The embedded dev stack: real PostgreSQL, NATS (JetStream) and Valkey from pip wheels, for ``gravity dev``
and for tests, supervised so that nothing outlives the supervisor.

In-process use::

    async with DevStack(Path(".gravity"), ports=StackPorts.free(), durable=False) as stack:
        stack.endpoints.postgres_dsn

As a detached supervisor (what ``gravity dev up`` does)::

    state = launch_supervisor(".gravity", command=["gravity", "serve"])
    read_state(".gravity"); stop_supervisor(".gravity"); reset(".gravity")
"""

from .control import launch_supervisor, reset, stop_supervisor
from .endpoints import StackEndpoints, StackPorts
from .errors import BinaryNotFoundError, PortInUseError, ServerStartError, StackBusyError, StackError
from .paths import DEFAULT_ROOT_NAME, StackPaths
from .process import ManagedProcess
from .stack import DevStack
from .state import StackState, load_state, read_state

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
