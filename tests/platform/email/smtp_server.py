"""A real SMTP server (aiosmtpd) in the test's event loop, with scripted replies, TLS and AUTH as needed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Relay:
    """Answers each DATA with the next scripted reply (then 250) and keeps what it accepted. With `target`, only
    mail to that address is scripted and kept (other mail, e.g. from other tests, is just accepted)."""

    replies: list[str] = field(default_factory=list)
    target: str | None = None
    refuse_recipients: set[str] = field(default_factory=set)
    accepted: list[Any] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.target is not None and self.target not in envelope.rcpt_tos:
            return "250 2.0.0 accepted"
        message = message_from_bytes(envelope.content)
        self.attempts.append(str(message["Message-ID"]))
        reply = self.replies.pop(0) if self.replies else "250 2.0.0 queued as 1234"
        if reply.startswith("250"):
            self.accepted.append(message)
        return reply

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"mailer" and data.password == b"s3cret", handled=False)


@contextlib.asynccontextmanager
async def smtp_server(relay: Relay, *, tls: ssl.SSLContext | None = None, implicit: bool = False,
                      **options: Any) -> AsyncIterator[int]:
    """Serve SMTP on a free loopback port: STARTTLS with `tls`, or TLS from the start with `implicit`."""
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(relay, hostname="localhost", tls_context=None if implicit else tls, **options)

    server = await loop.create_server(protocol, "127.0.0.1", 0, ssl=tls if implicit else None)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1/localhost, and the certificate file a client can trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "relay.crt", folder / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
