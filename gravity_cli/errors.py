"""Turning any exception into the one line the user sees (the traceback only with ``GRAVITY_DEBUG=1``).

Only classes of modules that are already imported are considered, so describing an error never imports the
server stack.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

_HINT = "set GRAVITY_DEBUG=1 to see the traceback"


class CLIError(Exception):
    """An error a command reports as is: ``str(error)`` is the whole message, ``code`` the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _loaded(module: str, name: str) -> Any:
    """The class ``module.name`` if that module is already imported, else None."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _loaded(module, name)
    return isinstance(cls, type) and isinstance(exc, cls)


def _sdk(exc: BaseException) -> str | None:
    if _is(exc, "gravity_sdk._exceptions", "APIConnectionError"):
        url = exc.request.url  # type: ignore[attr-defined]
        cause = exc.__cause__
        reason = f": {cause}" if cause is not None and str(cause) else ""
        return f"cannot reach the Gravity server at {url.scheme}://{url.netloc.decode()}{reason}"
    if _is(exc, "gravity_sdk._exceptions", "AuthenticationError"):
        return f"{exc}; sign in again with `gravity login`"
    if _is(exc, "gravity_sdk._exceptions", "PermissionDeniedError"):
        return f"{exc}; this needs an account with the admin role"
    if _is(exc, "gravity_sdk._exceptions", "GravityError"):
        return str(exc)
    return None


def _platform(exc: BaseException) -> str | None:
    if _is(exc, "gravity_platform.kernel.errors", "GravityError"):
        return f"{exc.detail} ({exc.status})"  # type: ignore[attr-defined]
    if _is(exc, "gravity_platform.kernel.crypto", "MasterKeyError"):
        return f"{exc} (the dev stack creates one: `gravity dev up`; elsewhere set GRAVITY_MASTER_KEY_FILE)"
    for module, name in (
        ("gravity_platform.devstack.errors", "StackError"),
        ("gravity_platform.kernel.plugins", "PluginError"),
    ):
        if _is(exc, module, name):
            return str(exc)
    if _is(exc, "pydantic", "ValidationError"):
        first = exc.errors()[0]  # type: ignore[attr-defined]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        return f"invalid configuration: {where}: {first.get('msg', 'invalid value')}"
    if _is(exc, "asyncpg.exceptions", "PostgresError"):
        return f"PostgreSQL: {exc}"
    if _is(exc, "nats.errors", "Error"):
        return f"NATS: {exc or type(exc).__name__}"
    return None


def reason(exc: BaseException) -> str:
    """Why an OS-level call failed, in the system's words (``Connection refused``), else the message."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _os(exc: BaseException) -> str | None:
    if isinstance(exc, TimeoutError):
        return "timed out waiting for an answer"
    if isinstance(exc, OSError):
        target = f": {exc.filename}" if exc.filename else ""
        if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"cannot connect{target}: {reason(exc)}"
        return f"{reason(exc)}{target}"
    return None


def describe(exc: BaseException) -> str:
    """The one-line message for ``exc``."""
    if isinstance(exc, CLIError):
        return str(exc)
    for known in (_sdk, _platform, _os):
        message = known(exc)
        if message:
            return message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + text if text else ''} ({_HINT})"
