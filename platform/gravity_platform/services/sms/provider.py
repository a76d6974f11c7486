"""How SMS leaves the platform: the provider interface (`gravity_sms_provider` hook) and the message."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class SmsMessage(msgspec.Struct, kw_only=True):
    """One text message. `to` and `sender` are E.164 numbers (validated before a provider sees them)."""

    to: str
    body: str
    sender: str | None = None
    status_callback: str | None = None


class SmsDeliveryError(RuntimeError):
    """Sending failed. `permanent` says whether retrying can ever help (e.g. an invalid number)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@runtime_checkable
class SmsProvider(Protocol):
    """Something that delivers an SmsMessage: Twilio, a dev outbox ..."""

    name: str

    async def send(self, message: SmsMessage) -> str | None:
        """Deliver `message`; return the provider's message id (used to match status callbacks)."""
        ...

    async def close(self) -> None:
        """Release connections; called when the node stops."""
        ...
