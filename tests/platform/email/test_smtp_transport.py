"""The smtp transport against a real SMTP server: STARTTLS, implicit TLS, AUTH, and how failures are classed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gravity_platform.services.email.smtp import SmtpOptions, SmtpTransport
from gravity_platform.services.email.transport import DeliveryError, EmailMessage
from tests.platform.email.smtp_server import Relay, self_signed, smtp_server

MESSAGE = EmailMessage(to=["ada@example.com"], subject="Hi", text="plain", html="<b>rich</b>",
                       message_id="<fixed-1@example.com>", headers={"X-Campaign": "c1", "Subject": "ignored"})


async def test_starttls_with_auth(tmp_path: Path) -> None:
    relay = Relay()
    context, cert = self_signed(tmp_path)
    async with smtp_server(relay, tls=context, require_starttls=True, auth_required=True,
                           authenticator=relay.authenticate) as port:
        transport = SmtpTransport(SmtpOptions(port=port, tls="starttls", username="mailer", password="s3cret",
                                              ca_file=str(cert), sender="Shop <shop@example.com>"))
        reply = await transport.send(MESSAGE)
    assert reply and "queued as 1234" in reply
    [received] = relay.accepted
    assert relay.logins == [(b"mailer", b"s3cret")]
    assert received["From"] == "Shop <shop@example.com>" and received["To"] == "ada@example.com"
    assert received["Message-ID"] == "<fixed-1@example.com>" and received["X-Campaign"] == "c1"
    assert received["Subject"] == "Hi" and received.is_multipart()


async def test_implicit_tls(tmp_path: Path) -> None:
    relay = Relay()
    context, cert = self_signed(tmp_path)
    async with smtp_server(relay, tls=context, implicit=True) as port:
        await SmtpTransport(SmtpOptions(port=port, tls="implicit", ca_file=str(cert))).send(MESSAGE)
    assert len(relay.accepted) == 1


async def test_an_untrusted_certificate_is_refused_and_retryable(tmp_path: Path) -> None:
    relay = Relay()
    context, _ = self_signed(tmp_path)
    async with smtp_server(relay, tls=context, implicit=True) as port:
        with pytest.raises(DeliveryError) as caught:
            await SmtpTransport(SmtpOptions(port=port, tls="implicit")).send(MESSAGE)
    assert not caught.value.permanent and relay.accepted == []


async def test_wrong_credentials_are_retryable(tmp_path: Path) -> None:
    relay = Relay()
    context, cert = self_signed(tmp_path)
    async with smtp_server(relay, tls=context, auth_required=True, authenticator=relay.authenticate,
                           auth_exclude_mechanism=["LOGIN"]) as port:
        options = SmtpOptions(port=port, tls="starttls", username="mailer", password="wrong", ca_file=str(cert),
                              timeout=10)
        with pytest.raises(DeliveryError, match="credentials") as caught:
            await SmtpTransport(options).send(MESSAGE)
    assert not caught.value.permanent


@pytest.mark.parametrize(("reply", "permanent"), [("451 4.3.0 try later", False), ("554 5.7.1 rejected", True)])
async def test_replies_decide_whether_to_retry(reply: str, permanent: bool) -> None:
    relay = Relay(replies=[reply])
    async with smtp_server(relay) as port:
        with pytest.raises(DeliveryError) as caught:
            await SmtpTransport(SmtpOptions(port=port, tls="none")).send(MESSAGE)
    assert caught.value.permanent is permanent and reply.split()[0] in str(caught.value)


async def test_refused_recipients() -> None:
    relay = Relay(refuse_recipients={"ada@example.com", "bob@example.com"})
    async with smtp_server(relay) as port:
        transport = SmtpTransport(SmtpOptions(port=port, tls="none"))
        with pytest.raises(DeliveryError) as everyone:
            await transport.send(MESSAGE)
        assert everyone.value.permanent and not everyone.value.delivered
        relay.refuse_recipients = {"bob@example.com"}
        with pytest.raises(DeliveryError) as some:
            await transport.send(EmailMessage(to=["ada@example.com", "bob@example.com"], subject="s", text="t"))
        assert some.value.delivered and "bob@example.com" in str(some.value)
    assert len(relay.accepted) == 1


async def test_nothing_listening_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError, match="could not talk") as caught:
        await SmtpTransport(SmtpOptions(port=port, tls="none", timeout=5)).send(MESSAGE)
    assert not caught.value.permanent
