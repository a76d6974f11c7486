"""`gravity dev mail`: list, show and follow the dev mail catcher's messages, straight from the project folder."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gravity_cli.cli import cli
from gravity_platform.devstack.mailbox import Mailbox, mailbox_of


def _deliver(root: Path, subject: str, to: str = "ada@example.com") -> str:
    message = EmailMessage()
    message["From"] = "Gravity <no-reply@gravity.local>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@gravity.local>"
    message.set_content(f"text of {subject}")
    message.add_alternative(f"<p>html of {subject}</p>", subtype="html")
    return mailbox_of(root).deliver("no-reply@gravity.local", [to], message.as_bytes())


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("GRAVITY_"):
            monkeypatch.delenv(name)
    return tmp_path / ".gravity"


def _gravity(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_list_and_show(root: Path) -> None:
    code, _, err = _gravity("dev", "mail", "--root", str(root))
    assert code == 0 and "No mail caught yet" in err
    first = _deliver(root, "first one")
    second = _deliver(root, "second one", to="bob@example.com")
    code, out, _ = _gravity("dev", "mail", "--root", str(root), "--json")
    listed = json.loads(out)
    assert [m["id"] for m in listed] == [first, second]
    assert listed[1]["to"] == ["bob@example.com"] and listed[1]["subject"] == "second one"
    code, out, _ = _gravity("dev", "mail", "--root", str(root), "-n", "1")
    assert second in out and first not in out and "second one" in out
    code, out, _ = _gravity("dev", "mail", "show", first, "--root", str(root))
    assert code == 0 and "Subject: first one" in out and "text of first one" in out and "<p>" not in out
    code, out, _ = _gravity("dev", "mail", "show", "latest", "--root", str(root), "--html")
    assert "<p>html of second one</p>" in out
    code, out, _ = _gravity("dev", "mail", "show", "latest", "--root", str(root), "--json")
    assert json.loads(out)["envelope_to"] == ["bob@example.com"]
    code, out, _ = _gravity("dev", "mail", "show", first, "--root", str(root), "--raw")
    assert out.startswith("X-Gravity-Envelope-From: no-reply@gravity.local")


def test_unknown_messages_are_a_one_line_error(root: Path) -> None:
    code, _, err = _gravity("dev", "mail", "show", "nope", "--root", str(root))
    assert code == 1 and "no caught message 'nope'" in err
    code, _, err = _gravity("dev", "mail", "show", "latest", "--root", str(root))
    assert code == 1 and "no mail caught yet" in err


async def test_follow_prints_mail_as_it_arrives(root: Path) -> None:
    _deliver(root, "already there")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gravity_cli", "dev", "mail", "--root", str(root), "--follow", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        listing = json.loads(await asyncio.wait_for(process.stdout.readuntil(b"]\n"), 30))
        assert [m["subject"] for m in listing] == ["already there"]
        fresh = _deliver(root, "just arrived")
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert json.loads(line)["id"] == fresh
    finally:
        process.terminate()
        await process.communicate()
    assert Mailbox(root / "data" / "mail").ids()[-1] == fresh
