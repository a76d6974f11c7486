"""Errors raised by the dev stack; every message is one line a developer can act on."""

from __future__ import annotations


class StackError(Exception):
    """Base class of every dev stack failure."""


class PortInUseError(StackError):
    """A port the stack needs is already taken on 127.0.0.1."""

    def __init__(self, server: str, port: int) -> None:
        super().__init__(
            f"{server} port {port} on 127.0.0.1 is already in use (another dev stack or a system service?); "
            f"free it or choose other ports"
        )
        self.server = server
        self.port = port


class ServerStartError(StackError):
    """An embedded server exited or did not answer in time during start-up."""

    def __init__(self, server: str, reason: str, log_tail: str = "") -> None:
        message = f"{server} failed to start: {reason}"
        if log_tail:
            message += f"; last log line: {log_tail}"
        super().__init__(message)
        self.server = server
        self.reason = reason
        self.log_tail = log_tail


class StackBusyError(StackError):
    """Another dev stack or supervisor already owns the project folder."""


class BinaryNotFoundError(StackError):
    """A server binary that should come from a pip package could not be found."""
