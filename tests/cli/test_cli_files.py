"""What the CLI writes: the credentials file, the OpenAPI document, and how it reads logs."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest

from gravity_cli import credentials
from gravity_cli.devproject import DevConfig, DevProject
from gravity_cli.logview import follow, last_problem, render, tail
from gravity_sdk import Tokens

from .conftest import Invoke


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_credentials_are_private(isolated: Path, tmp_path: Path) -> None:
    stored = credentials.Credentials("http://127.0.0.1:8080", "ada@example.com")
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    path = credentials.save(stored.with_tokens(Tokens(access_token="a", refresh_token="r", expires_at=expires)))
    assert path == tmp_path / "config" / "credentials.json"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    loaded = credentials.load()
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token, loaded.expires_at) == ("a", "r", expires.isoformat())


def test_credentials_file_defaults_to_the_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(credentials.CREDENTIALS_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert credentials.credentials_path() == tmp_path / "gravity" / "credentials.json"


def test_refreshed_tokens_are_persisted(isolated: Path) -> None:
    expired = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    stored = credentials.Credentials("http://gravity.test", "ada@example.com", "old", "old-refresh", expired)
    credentials.save(stored)
    seen: list[str] = []

    def server(request: httpx2.Request) -> httpx2.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers.get('authorization', '-')}")
        if request.url.path == "/oauth2/token":
            assert b"refresh_token=old-refresh" in request.content
            return httpx2.Response(200, json={"access_token": "new", "refresh_token": "new-refresh",
                                              "token_type": "Bearer", "expires_in": 900})
        return httpx2.Response(200, json={"items": [], "next_cursor": None})

    with stored.client(transport=httpx2.MockTransport(server)) as client:
        assert list(client.users.list()) == []
    assert seen == ["POST /oauth2/token -", "GET /api/v1/users Bearer new"]
    loaded = credentials.load()
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token) == ("new", "new-refresh")
    assert mode(credentials.credentials_path()) == 0o600


def test_damaged_credentials_are_one_line(gravity: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "config" / "credentials.json"
    path.parent.mkdir()
    path.write_text("{not json")
    result = gravity("users", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {path} is damaged; sign in again with `gravity login`"


def test_openapi_prints_the_merged_document(gravity: Invoke) -> None:
    result = gravity("openapi")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/users/me" in document["paths"]
    assert "/oauth2/token" in document["paths"]
    assert not any(path.startswith("/schema") for path in document["paths"])


def test_openapi_output_file(gravity: Invoke, isolated: Path) -> None:
    result = gravity("openapi", "--output", "api.json")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "/api/v1/users/me" in json.loads((isolated / "api.json").read_text())["paths"]


def test_dev_project_remembers_choices(isolated: Path) -> None:
    project = DevProject.at()
    assert project.load_config() == DevConfig()
    project.save_config(DevConfig(port=18080))
    assert project.load_config().url == "http://127.0.0.1:18080"
    project.save_admin("admin@gravity.local", "id-1")
    record = project.admin_record()
    assert record is not None
    assert record["email"] == "admin@gravity.local"
    assert "password" not in record
    assert mode(project.admin_file) == 0o600
    project.forget()
    assert project.admin_record() is None


def test_tail_reads_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(100_000)))
    assert tail(log, 3) == ["line 99997", "line 99998", "line 99999"]
    assert tail(log, 0) == []


def test_json_log_lines_are_made_readable() -> None:
    line = json.dumps({"ts": "2026-01-01T10:11:12.345+00:00", "level": "error", "logger": "gravity.node",
                       "msg": "broke", "request_id": "r1"})
    assert render(line).plain == "10:11:12.345 ERROR   gravity.node: broke request_id=r1"
    assert render(line, raw=True).plain == line
    assert render("plain text", prefix="nats").plain == "nats | plain text"


def test_last_problem_prefers_errors(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    entries = [{"level": "error", "msg": "cannot bind", "exc": "Traceback\nOSError: address in use"},
               {"level": "info", "msg": "bye"}]
    log.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    assert last_problem(log) == "cannot bind: OSError: address in use"
    assert last_problem(tmp_path / "missing.log") is None


def test_follow_yields_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "node.log"
    log.write_text("old\n")
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            with log.open("a") as handle:
                handle.write("new 1\nnew 2\npartial")
        return calls > 3

    assert list(follow({"node": log}, stop=stop, interval=0.01)) == [("node", "new 1"), ("node", "new 2")]
