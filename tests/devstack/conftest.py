"""Helpers for the dev stack tests."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import gravity_platform.devstack as devstack


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def supervisor_env() -> dict[str, str]:
    """An environment in which ``python -m gravity_platform.devstack`` imports this checkout."""
    source = str(Path(devstack.__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}


@pytest.fixture
def supervisor_argv() -> list[str]:
    """The supervisor's command line, without its arguments."""
    return [sys.executable, "-m", "gravity_platform.devstack", "supervise"]
