"""The dev mail catcher's mailbox: one ``.eml`` file per caught message under ``data/mail``, written atomically.

Each file is the message exactly as received, preceded by two envelope headers the catcher adds
(``X-Gravity-Envelope-From`` and ``X-Gravity-Envelope-To``). File names sort in arrival order, so the newest
message is the last one. Readers (``gravity dev mail``, the email service's dev API) use :class:`Mailbox`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from .paths import PRIVATE_FILE_MODE, StackPaths

ENVELOPE_FROM = "X-Gravity-Envelope-From"
ENVELOPE_TO = "X-Gravity-Envelope-To"
_ID = re.compile(r"^\d{8}T\d{6}\d{6}Z-[0-9a-f]{8}$")


@dataclass(frozen=True)
class CaughtMail:
    """One caught message: its ID, envelope and the parsed message."""

    id: str
    envelope_from: str
    envelope_to: list[str]
    received_at: datetime
    size: int
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def sender(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def to(self) -> list[str]:
        """The ``To`` header's addresses, else the envelope recipients."""
        header = self.message.get("To")
        if header is None:
            return list(self.envelope_to)
        return [str(address.addr_spec) for address in header.addresses]

    def body(self, subtype: str) -> str | None:
        """The ``text/plain`` or ``text/html`` part, decoded, if the message has one."""
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            return None
        content: str = part.get_content()
        return content.replace("\r\n", "\n")

    def summary(self) -> dict[str, object]:
        """A JSON-ready line about the message."""
        return {"id": self.id, "received_at": self.received_at.isoformat(), "from": self.sender, "to": self.to,
                "subject": self.subject, "size": self.size, "message_id": self.message.get("Message-ID")}

    def details(self) -> dict[str, object]:
        """The summary plus the envelope, every header and the text and HTML bodies."""
        headers = [[name, str(value)] for name, value in self.message.items()
                   if name not in (ENVELOPE_FROM, ENVELOPE_TO)]
        return {**self.summary(), "envelope_from": self.envelope_from, "envelope_to": self.envelope_to,
                "headers": headers, "text": self.body("plain"), "html": self.body("html")}


class Mailbox:
    """The catcher's message folder."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def deliver(self, envelope_from: str, envelope_to: Sequence[str], data: bytes) -> str:
        """Store one message durably (temporary file, fsync, rename) and return its ID."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        now = datetime.now(UTC)
        message_id = f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"
        envelope = (f"{ENVELOPE_FROM}: {_one_line(envelope_from)}\r\n"
                    f"{ENVELOPE_TO}: {', '.join(_one_line(a) for a in envelope_to)}\r\n").encode()
        final = self.folder / f"{message_id}.eml"
        tmp = self.folder / f".{message_id}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(envelope + data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)
        return message_id

    def ids(self) -> list[str]:
        """IDs of every caught message, oldest first."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(name[:-4] for name in names if name.endswith(".eml") and _ID.match(name[:-4]))

    def list(self, *, limit: int | None = None) -> list[CaughtMail]:
        """Caught messages, oldest first (the newest `limit` of them when given)."""
        ids = self.ids()
        if limit is not None:
            ids = ids[-limit:] if limit > 0 else []
        found = (self.get(message_id) for message_id in ids)
        return [mail for mail in found if mail is not None]

    def get(self, message_id: str) -> CaughtMail | None:
        """One caught message, or None if there is no such message."""
        if not _ID.match(message_id):
            return None
        try:
            raw = (self.folder / f"{message_id}.eml").read_bytes()
        except FileNotFoundError:
            return None
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        recipients = [a.strip() for a in str(message.get(ENVELOPE_TO, "")).split(",") if a.strip()]
        received = datetime.strptime(message_id[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        return CaughtMail(message_id, str(message.get(ENVELOPE_FROM, "")), recipients, received, len(raw), message)

    def raw(self, message_id: str) -> bytes | None:
        """The stored file of one message (envelope headers included), or None."""
        if not _ID.match(message_id):
            return None
        try:
            return (self.folder / f"{message_id}.eml").read_bytes()
        except FileNotFoundError:
            return None


def mailbox_of(root: Path | str) -> Mailbox:
    """The mailbox of the dev stack in the project folder ``root``."""
    return Mailbox(StackPaths.at(root).mail_data)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
