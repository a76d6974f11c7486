"""The command tree, global options, and how errors reach the user."""

from __future__ import annotations

import json

import httpx2
import pytest

from gravity_cli import __version__
from gravity_cli.devproject import DevProject
from gravity_cli.errors import CLIError, describe

from .conftest import Invoke

COMMANDS = ["dev", "serve", "migrate", "status", "login", "users", "auth", "openapi"]


def test_help_lists_every_command(gravity: Invoke) -> None:
    result = gravity("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(
    ("group", "commands"),
    [("dev", ["up", "down", "status", "logs", "reset"]), ("users", ["list", "create", "create-admin", "deactivate"]),
     ("auth", ["rotate-keys"])],
)
def test_groups_list_their_commands(gravity: Invoke, group: str, commands: list[str]) -> None:
    result = gravity(group, "--help")
    assert result.exit_code == 0
    for command in commands:
        assert command in result.stdout


def test_version(gravity: Invoke) -> None:
    result = gravity("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"gravity {__version__}"


def test_unknown_command_is_a_usage_error(gravity: Invoke) -> None:
    result = gravity("launch")
    assert result.exit_code == 2
    assert result.stdout == ""


def test_missing_config_file_is_an_error(gravity: Invoke) -> None:
    result = gravity("--config", "nope.toml", "dev", "status")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no settings file at nope.toml"


def test_unexpected_exception_is_one_line(gravity: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(DevProject, "state", explode)
    result = gravity("dev", "status")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: RuntimeError: boom (set GRAVITY_DEBUG=1 to see the traceback)"]
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(gravity: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(DevProject, "state", explode)
    result = gravity("dev", "status", env={"GRAVITY_DEBUG": "1"})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().endswith("error: RuntimeError: boom (set GRAVITY_DEBUG=1 to see the traceback)")


def test_global_options_come_from_the_environment(gravity: Invoke) -> None:
    result = gravity("dev", "status", env={"GRAVITY_JSON": "1"})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["running"] is False


def test_quiet_hides_notes_but_not_data(gravity: Invoke) -> None:
    noisy = gravity("dev", "down")
    quiet = gravity("-q", "dev", "down")
    assert "No dev stack is running" in noisy.stderr
    assert quiet.stderr == ""


def test_no_color_is_respected(gravity: Invoke) -> None:
    result = gravity("--config", "missing.toml", "status", env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert result.exit_code == 2
    assert "\x1b[" not in result.stderr


def test_cli_errors_keep_their_message_and_code() -> None:
    assert describe(CLIError("plain words", code=3)) == "plain words"


def test_sdk_connection_errors_name_the_server() -> None:
    from gravity_sdk import APIConnectionError

    request = httpx2.Request("GET", "http://127.0.0.1:9/api/v1/users")
    error = APIConnectionError(request=request)
    error.__cause__ = ConnectionRefusedError("refused")
    assert describe(error) == "cannot reach the Gravity server at http://127.0.0.1:9: refused"


def test_connection_refused_is_described_plainly() -> None:
    assert describe(ConnectionRefusedError(111, "Connection refused")) == "cannot connect: Connection refused"
