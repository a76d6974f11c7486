"""The dev mail catcher: SMTP on loopback, each message kept as an .eml file, readable through Mailbox."""

from __future__ import annotations

import stat
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from gravity_platform.devstack import DevStack, StackPorts
from gravity_platform.devstack.mailbox import Mailbox, mailbox_of


def _message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "Ada <ada@example.com>, bob@example.com"
    message["Subject"] = subject
    message.set_content("plain body ✓")
    message.add_alternative("<p>html body</p>", subtype="html")
    return message


async def test_the_stack_catches_mail_durably(tmp_path: Path) -> None:
    async with DevStack(tmp_path, ports=StackPorts.free(), durable=False) as stack:
        port = stack.endpoints.ports.mail
        assert port and "mail" in stack.processes
        assert stack.endpoints.smtp_url == f"smtp://127.0.0.1:{port}"
        assert stack.endpoints.email_settings()["transport_options"]["port"] == port
        await aiosmtplib.send(_message("first"), hostname="127.0.0.1", port=port, start_tls=False)
        await aiosmtplib.send(_message("second"), sender="bounce@example.com", recipients=["carol@example.com"],
                              hostname="127.0.0.1", port=port, start_tls=False)
    mailbox = mailbox_of(tmp_path)
    first, second = mailbox.list()
    assert (first.subject, second.subject) == ("first", "second")
    assert first.to == ["ada@example.com", "bob@example.com"]
    assert first.body("plain") == "plain body ✓\n" and first.body("html") == "<p>html body</p>\n"
    assert second.envelope_from == "bounce@example.com" and second.envelope_to == ["carol@example.com"]
    assert mailbox.get(second.id) is not None and mailbox.get("../stack") is None
    assert [mail.id for mail in mailbox.list(limit=1)] == [second.id]
    files = sorted((tmp_path / "data" / "mail").iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert stat.S_IMODE((tmp_path / "data" / "mail").stat().st_mode) == 0o700


def test_mailbox_ids_sort_in_arrival_order(tmp_path: Path) -> None:
    mailbox = Mailbox(tmp_path / "mail")
    assert mailbox.list() == []
    ids = [mailbox.deliver("a@example.com", ["b@example.com"], f"Subject: {n}\r\n\r\nx\r\n".encode())
           for n in range(5)]
    assert mailbox.ids() == ids
    assert [mail.subject for mail in mailbox.list()] == ["0", "1", "2", "3", "4"]
    assert not list((tmp_path / "mail").glob(".*"))


def test_ports_keep_a_chosen_mail_port_and_pick_one_otherwise() -> None:
    assert StackPorts.parse("1,2,3,4").mail == 4
    assert StackPorts.parse("1,2,3").with_mail_port().mail > 0
    assert StackPorts(mail=2525).with_mail_port().mail == 2525
    with pytest.raises(ValueError, match="differ"):
        StackPorts(postgres=1, nats=2, valkey=3, mail=3)

