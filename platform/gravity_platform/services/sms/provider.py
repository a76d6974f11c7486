"""How SMS leaves the platform: the provider interface (`gravity_sms_provider` hook) and the message.

A provider implements `SmsProvider`. One that reports delivery back (e.g. Twilio's status callbacks) also
implements `SmsStatusCallbacks`: the SMS service then passes each callback request of
`POST /api/v1/sms/callbacks/<provider name>` to it to verify and parse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, runtime_checkable

import msgspec


class SmsMessage(msgspec.Struct, kw_only=True):
    """One text message. `to` and `sender` are E.164 numbers (validated before a provider sees them).

    `status_callback` is the public URL the provider should report delivery to (set only for providers that
    implement `SmsStatusCallbacks`); `id` is the SMS service's own ID of the message."""

    to: str
    body: str
    sender: str | None = None
    status_callback: str | None = None
    id: str | None = None


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


class SmsStatusUpdate(msgspec.Struct, kw_only=True, frozen=True):
    """What a verified status callback says about one message, named by the provider's message id."""

    provider_message_id: str
    status: Literal["sent", "delivered", "failed"]
    error: str | None = None


class SmsCallbackError(Exception):
    """A status callback could not be verified (bad or missing signature, wrong account): answered with 403."""


@runtime_checkable
class SmsStatusCallbacks(Protocol):
    """Optional: a provider that reports delivery status to a public callback URL."""

    def parse_status_callback(self, url: str, headers: Mapping[str, str], body: bytes) -> SmsStatusUpdate | None:
        """Verify and read one callback request.

        `url` is the public URL the provider was given (built from the configured public URL, never from the
        request's Host header, plus the request's query string); `headers` the request headers (lower-case
        names); `body` the raw request body. Returns the update, or None for a status not worth recording
        (e.g. "sending"). Raises `SmsCallbackError` when the request cannot be verified."""
        ...
