"""How email leaves the platform: the transport interface (`gravity_email_transport` hook) and the message."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class EmailMessage(msgspec.Struct, kw_only=True):
    """One email, already rendered."""

    to: list[str]
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    message_id: str | None = None


class DeliveryError(RuntimeError):
    """Sending failed. `permanent` says whether retrying can ever help (e.g. a 5xx SMTP reply)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


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
