"""End to end: `gravity dev up` as a user runs it, the operator commands against it, down, and up again."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from gravity_platform.devstack import StackPorts, stop_supervisor
from gravity_sdk import AuthenticationError, BadRequestError, Gravity

_SCRIPT = Path(sys.executable).with_name("gravity")
GRAVITY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "gravity_cli"]
_PASSWORD = re.compile(r"^\s+password\s+(\S+)$", re.MULTILINE)


class Project:
    """A throwaway project folder, on free ports, and a way to run `gravity` in it as a subprocess."""

    def __init__(self, tmp_path: Path) -> None:
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.root = self.work / ".gravity"
        self.credentials = tmp_path / "home" / "credentials.json"
        self.port = _free_port()
        ports = StackPorts.free()
        self.stack_ports = f"{ports.postgres},{ports.nats},{ports.valkey}"
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("GRAVITY_")}
        self.env |= {"GRAVITY_PROJECT_DIR": str(self.root), "GRAVITY_CREDENTIALS_FILE": str(self.credentials),
                     "NO_COLOR": "1"}

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*GRAVITY, *args], cwd=self.work, env=self.env, input=input, capture_output=True,
                                text=True, timeout=180, check=False)
        if check:
            assert result.returncode == 0, f"gravity {' '.join(args)} failed:\n{result.stderr}"
            assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gone(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    return fields[0] in ("Z", "X")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _sign_in(url: str, email: str, password: str) -> Gravity:
    client = Gravity(base_url=url, max_retries=0)
    try:
        client.auth.login(email=email, password=password)
    except BaseException:
        client.close()
        raise
    return client


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = Project(tmp_path)
    try:
        yield made
    finally:
        stop_supervisor(made.root)


def _first_up(project: Project) -> tuple[str, str, str]:
    began = time.monotonic()
    result = project.run("dev", "up", "--root", str(project.root), "--port", str(project.port),
                         "--stack-ports", project.stack_ports)
    took = time.monotonic() - began
    assert took < 60, f"dev up took {took:.1f} s"
    url = re.search(r"Gravity is running at (\S+)", result.stdout)
    email = re.search(r"^\s+admin\s+(\S+)$", result.stdout, re.MULTILINE)
    password = _PASSWORD.search(result.stdout)
    assert url, result.stdout
    assert email, result.stdout
    assert password, result.stdout
    assert url[1] == f"http://127.0.0.1:{project.port}"
    assert f"{url[1]}/docs" in result.stdout
    assert "password" not in project.root.joinpath("admin.json").read_text()
    return url[1], email[1], password[1]


def _operate(project: Project, url: str, email: str, password: str) -> None:
    again = project.run("dev", "up", "--root", str(project.root))
    assert "already running" in again.stderr
    assert url in again.stdout
    assert not _PASSWORD.search(again.stdout)

    project.run("login", "--url", url, "--email", email, "--password-stdin", input=f"{password}\n")
    assert stat.S_IMODE(project.credentials.stat().st_mode) == 0o600
    assert email in [user["email"] for user in project.json("users", "list")]

    created = project.json("users", "create", "bob@example.com")
    assert created["user"]["email"] == "bob@example.com"
    assert created["password"]
    _sign_in(url, "bob@example.com", created["password"]).close()
    project.run("users", "deactivate", "bob@example.com")
    with pytest.raises((AuthenticationError, BadRequestError)):
        _sign_in(url, "bob@example.com", created["password"])

    operator = project.json("users", "create-admin", "ops@example.com")
    with _sign_in(url, "ops@example.com", operator["password"]) as client:
        assert "admin" in client.users.me().roles
        totp = pyotp.TOTP(client.auth.mfa_enroll_totp().secret)
        client.auth.mfa_confirm_totp(otp=totp.now())
    project.run("login", "--url", url, "--email", "ops@example.com", "--password-stdin",
                input=f"{operator['password']}\n{totp.now()}\n")
    assert json.loads(project.credentials.read_text())["email"] == "ops@example.com"

    report = project.json("status")
    assert {"auth", "users", "gateway"} <= set(report["services"])
    assert report["node"]["ready"] is True
    assert report["postgres"]["ok"] is True
    assert {"gravity_auth", "gravity_users"} <= {role["role"] for role in report["postgres"]["roles"]}

    assert project.run("auth", "rotate-keys").stdout.strip()
    assert {entry["service"] for entry in project.json("migrate")} >= {"auth", "users"}
    assert project.run("dev", "logs", "node", "-n", "5", "--root", str(project.root)).stdout


def test_dev_up_operate_down_up(project: Project) -> None:
    url, email, password = _first_up(project)
    with _sign_in(url, email, password) as client:
        me = client.users.me()
        assert me.email == email
        assert "admin" in me.roles

    _operate(project, url, email, password)

    status = project.json("dev", "status", "--root", str(project.root))
    pids = [status["pid"], *status["processes"].values()]
    assert set(status["processes"]) == {"node", "postgres", "nats", "valkey", "mail"}
    project.run("dev", "down", "--root", str(project.root))
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if not _gone(pid)] == []
    assert not _listening(project.port)
    assert project.json("dev", "status", "--root", str(project.root))["running"] is False

    again = project.run("dev", "up", "--root", str(project.root))
    assert f"Gravity is running at {url}" in again.stdout
    assert not _PASSWORD.search(again.stdout)
    with _sign_in(url, email, password) as client:
        assert client.users.me().email == email
    project.run("dev", "down", "--root", str(project.root))
