"""Fixtures for the CLI tests: the command run in-process against an isolated home, project and config."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gravity_cli.cli import cli


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no gravity.toml, its own project folder and credentials file, no GRAVITY_* leaks."""
    for name in list(os.environ):
        if name.startswith("GRAVITY_") or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GRAVITY_CREDENTIALS_FILE", str(tmp_path / "config" / "credentials.json"))
    monkeypatch.setenv("GRAVITY_PROJECT_DIR", str(work / ".gravity"))
    return work


Invoke = Callable[..., Result]


@pytest.fixture
def gravity(isolated: Path) -> Invoke:
    """Run ``gravity ARGS...`` in-process; returns the result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
