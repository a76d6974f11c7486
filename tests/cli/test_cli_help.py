"""Every command's help renders (Rich markup in help texts must not break it)."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from gravity_cli.cli import cli
from tests.cli.conftest import Invoke


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


PATHS = _command_paths(typer.main.get_command(cli))


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "gravity")
def test_help_renders(gravity: Invoke, path: tuple[str, ...]) -> None:
    result = gravity(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
