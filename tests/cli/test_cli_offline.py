"""Bad input and unreachable servers: a one-line error and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from typer.testing import Result

from gravity_platform.kernel.crypto import generate_master_key_file

from .conftest import Invoke


def one_line_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().endswith(errors[0]), "the error is the last thing said"
    assert "Traceback" not in result.output
    return errors[0]


def test_users_commands_need_a_sign_in(gravity: Invoke) -> None:
    for args in (["users", "list"], ["users", "create", "a@example.com"], ["users", "deactivate", "a@example.com"]):
        assert one_line_error(gravity(*args)) == "error: not signed in; run `gravity login` first"


def test_bad_email_is_a_usage_error(gravity: Invoke) -> None:
    assert "not an email address" in one_line_error(gravity("users", "create-admin", "nobody"), code=2)


def test_login_to_an_unreachable_server(gravity: Invoke, closed_port: int) -> None:
    result = gravity("login", "--url", f"http://127.0.0.1:{closed_port}", "--email", "a@example.com",
                     "--password-stdin", input="secret-password\n")
    assert f"cannot reach the Gravity server at http://127.0.0.1:{closed_port}" in one_line_error(result)


def test_login_rejects_a_url_without_scheme(gravity: Invoke) -> None:
    result = gravity("login", "--url", "example.com", "--email", "a@example.com", "--password-stdin", input="x\n")
    assert result.exit_code == 2


def test_login_without_password_or_terminal(gravity: Invoke) -> None:
    result = gravity("login", "--url", "http://127.0.0.1:9", "--email", "a@example.com")
    assert "no terminal" in one_line_error(result, code=2)


def test_status_with_nats_unreachable(gravity: Invoke, closed_port: int) -> None:
    began = time.monotonic()
    result = gravity("status", env={"GRAVITY_NATS__URL": f"nats://user:pw@127.0.0.1:{closed_port}"})
    message = one_line_error(result)
    assert message == f"error: cannot reach NATS at nats://user:***@127.0.0.1:{closed_port}: Connection refused"
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("args", [["migrate"], ["users", "create-admin", "ops@example.com"], ["auth", "rotate-keys"]])
def test_database_commands_with_postgres_unreachable(gravity: Invoke, isolated: Path, closed_port: int,
                                                     args: list[str]) -> None:
    key = isolated / "master.key"
    generate_master_key_file(key)
    env = {"GRAVITY_DATABASE__URL": f"postgresql://postgres@127.0.0.1:{closed_port}/gravity",
           "GRAVITY_MASTER_KEY_FILE": str(key)}
    message = one_line_error(gravity(*args, env=env))
    assert message == f"error: cannot connect to PostgreSQL at 127.0.0.1:{closed_port}/gravity: Connection refused"


def test_migrate_without_master_key(gravity: Invoke, isolated: Path) -> None:
    message = one_line_error(gravity("migrate", env={"GRAVITY_MASTER_KEY_FILE": str(isolated / "none.key")}))
    assert "no master key at" in message


def test_serve_unknown_service(gravity: Invoke) -> None:
    assert "unknown service(s): nosuch" in one_line_error(gravity("serve", "nosuch"))


def test_invalid_settings_are_one_line(gravity: Invoke) -> None:
    message = one_line_error(gravity("migrate", env={"GRAVITY_DATABASE__POOL_MAX": "zero"}))
    assert message.startswith("error: invalid configuration: database.pool_max")


def test_dev_status_when_not_running(gravity: Invoke, isolated: Path) -> None:
    result = gravity("dev", "status", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"root": str(isolated / ".gravity"), "running": False}
    assert gravity("dev", "status").stdout.startswith("not running")


def test_dev_down_when_not_running(gravity: Invoke) -> None:
    result = gravity("dev", "down")
    assert result.exit_code == 0
    assert "No dev stack is running" in result.stderr


def test_dev_up_rejects_bad_stack_ports(gravity: Invoke) -> None:
    result = gravity("dev", "up", "--stack-ports", "1,2")
    assert result.exit_code == 2
    assert "postgres,nats,valkey" in result.stderr


def test_dev_up_refuses_a_busy_port(gravity: Invoke) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = one_line_error(gravity("dev", "up", "--port", str(port)))
    assert message == f"error: port {port} on 127.0.0.1 is already in use; choose another with --port"


def test_dev_logs_unknown_name(gravity: Invoke, isolated: Path) -> None:
    logs = isolated / ".gravity" / "logs"
    logs.mkdir(parents=True)
    (logs / "node.log").write_text("hello\n")
    message = one_line_error(gravity("dev", "logs", "nope"), code=2)
    assert "available: node" in message
    assert gravity("dev", "logs", "node").stdout == "hello\n"


def test_dev_logs_without_logs(gravity: Invoke) -> None:
    assert "no logs in" in one_line_error(gravity("dev", "logs"))


def test_dev_reset_asks_first(gravity: Invoke, isolated: Path) -> None:
    root = isolated / ".gravity"
    (root / "data").mkdir(parents=True)
    assert "pass --yes" in one_line_error(gravity("dev", "reset"))
    assert root.joinpath("data").exists()
    assert gravity("dev", "reset", "--yes").exit_code == 0
    assert not root.joinpath("data").exists()


@pytest.mark.parametrize("args", [["users", "list", "--limit", "0"], ["dev", "logs", "-n", "-1"],
                                  ["serve", "--port", "70000"]])
def test_out_of_range_options(gravity: Invoke, args: list[str]) -> None:
    assert gravity(*args).exit_code == 2
