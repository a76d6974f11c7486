"""`gravity notifications ...` run in-process against the node under test (the CLI is synchronous, so it runs
in a worker thread while the node serves from the test's event loop)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gravity_cli import credentials
from gravity_cli.cli import cli
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode
from tests.platform.notifications.conftest import unique_name


@pytest.fixture
def signed_in_admin(node: RunningNode, admin: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAVITY_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    credentials.save(credentials.Credentials(node.url, admin.email, admin.access_token, admin.refresh_token))


async def gravity(*args: str, input: str | None = None) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), input=input, catch_exceptions=False)


@pytest.mark.usefixtures("signed_in_admin")
async def test_templates_and_send(tmp_path: Path, account: Account) -> None:
    name = unique_name()
    document = tmp_path / "welcome.toml"
    document.write_text('category = "account"\n[channels.inapp]\ntitle = "Welcome {{ who }}"\nbody = "Hi"\n')
    saved = await gravity("notifications", "templates", "put", name, "--file", str(document))
    assert saved.exit_code == 0, saved.output
    assert "version 1" in saved.stderr
    again = await gravity("notifications", "templates", "put", name, "-f", "-", "--json",
                          input='{"inapp": {"title": "Welcome back {{ who }}", "body": "Hi"}}')
    assert json.loads(again.stdout)["version"] == 2

    listed = await gravity("--json", "notifications", "templates", "ls")
    mine = [t for t in json.loads(listed.stdout) if t["name"] == name]
    assert [(t["version"], t["category"]) for t in mine] == [(2, "general")]
    shown = await gravity("notifications", "templates", "show", name, "--version", "1")
    assert "Welcome {{ who }}" in shown.stdout and "version: 1" in shown.stdout

    sent = await gravity("notifications", "send", "-t", name, "--to", account.email, "--var", "who=Ada",
                         "--channel", "inapp", "--json")
    assert sent.exit_code == 0, sent.output
    [created] = json.loads(sent.stdout)
    assert created["user_id"] == account.id and created["template_version"] == 2
    status = await gravity("notifications", "status", created["id"])
    assert "inapp" in status.stdout

    broken = await gravity("notifications", "templates", "put", unique_name(), "-f", "-",
                           input='{"inapp": {"title": "{{ x.__class__ }}", "body": "x"}}')
    assert broken.exit_code == 1 and "__class__" in broken.stderr
    unknown = await gravity("notifications", "send", "-t", name, "--to", account.id, "--channel", "fax")
    assert unknown.exit_code == 2
