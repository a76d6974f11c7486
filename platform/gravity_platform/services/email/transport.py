"""How email leaves the platform: the transport interface (`gravity_email_transport` hook) and the message."""

from __future__ import annotations

import email.message
import email.utils
from typing import Protocol, runtime_checkable

import msgspec

RESERVED_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to",
                              "mime-version", "content-type", "content-transfer-encoding"})
"""Headers the service sets itself; `EmailMessage.headers` may not override them."""


class EmailMessage(msgspec.Struct, kw_only=True):
    """One email, already rendered. `message_id` (`<...@domain>`) stays the same across retries of one email,
    so a relay that de-duplicates on it never delivers a retried message twice."""

    to: list[str]
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    message_id: str | None = None


def to_mime(message: EmailMessage, *, sender: str) -> email.message.EmailMessage:
    """The message as a MIME document (text, plus an HTML alternative when there is one), from `sender`
    unless the message names its own."""
    mime = email.message.EmailMessage()
    mime["From"] = message.sender or sender
    mime["To"] = ", ".join(message.to)
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = message.message_id or email.utils.make_msgid(domain="gravity.local")
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    for name, value in message.headers.items():
        if name.lower() not in RESERVED_HEADERS:
            mime[name] = value
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime


class DeliveryError(RuntimeError):
    """Sending failed. `permanent` says whether retrying can ever help (e.g. a 5xx SMTP reply).

    `delivered` says the message went out to some recipients but not all (a relay refused a few): the
    service records it as sent, with this error, and never retries (that would deliver it twice)."""

    def __init__(self, message: str, *, permanent: bool = False, delivered: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent or delivered
        self.delivered = delivered


@runtime_checkable
class EmailTransport(Protocol):
    """Something that delivers an EmailMessage: an SMTP relay, a webhook, an HTTP API ..."""

    name: str

    async def send(self, message: EmailMessage) -> str | None:
        """Deliver `message`; return the provider's message id if it has one. Raise DeliveryError on failure."""
        ...

    async def close(self) -> None:
        """Release connections; called when the node stops."""
        ...
