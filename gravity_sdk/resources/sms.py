"""``client.sms``: send text messages (admins and service clients with ``sms:send``) and follow their delivery."""

from __future__ import annotations

from typing import Any

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.sms import SmsMessage, SmsOutboxEntry, SmsOutboxPage

__all__ = ["AsyncSms", "Sms"]

_SMS = "/api/v1/sms"
_OUTBOX = "/api/v1/sms/dev/outbox"


class _SmsBase(APIResource[ClientT]):
    @staticmethod
    def _send_body(to: str, body: str, idempotency_key: str | NotGiven | None,
                   metadata: dict[str, str] | NotGiven) -> dict[str, Any]:
        return {"to": to, "body": body, **strip_not_given({"idempotency_key": idempotency_key, "metadata": metadata})}

    @staticmethod
    def _idempotent(idempotency_key: str | NotGiven | None) -> bool:
        """A send with an idempotency key is safe to retry: the server sends it once."""
        return isinstance(idempotency_key, str)

    @staticmethod
    def _outbox_params(to: str | NotGiven, limit: int | NotGiven) -> dict[str, Any]:
        return strip_not_given({"to": to, "limit": limit})


class Sms(_SmsBase[SyncAPIClient]):
    """Text messages: queued at once, delivered by the server's provider with retries."""

    def send(
        self,
        *,
        to: str,
        body: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> SmsMessage:
        """Queue a message to ``to`` (international format); the same ``idempotency_key`` sends it only once
        (and makes the call safe to retry). An invalid number raises ``UnprocessableEntityError``."""
        return self._client.request(SmsMessage, "POST", f"{_SMS}/send", timeout=timeout,
                                    json=self._send_body(to, body, idempotency_key, metadata),
                                    idempotent=self._idempotent(idempotency_key))

    def get(self, sms_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> SmsMessage:
        """One message and its delivery state."""
        return self._client.request(SmsMessage, "GET", f"{_SMS}/{path_id(sms_id)}", timeout=timeout)

    def dev_outbox(
        self,
        *,
        to: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> list[SmsOutboxEntry]:
        """What the dev outbox provider kept, newest first (admin; only while that provider is in use)."""
        page = self._client.request(SmsOutboxPage, "GET", _OUTBOX, params=self._outbox_params(to, limit),
                                    timeout=timeout)
        return page.items


class AsyncSms(_SmsBase[AsyncAPIClient]):
    """Text messages: queued at once, delivered by the server's provider with retries."""

    async def send(
        self,
        *,
        to: str,
        body: str,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> SmsMessage:
        """Queue a message to ``to`` (international format); the same ``idempotency_key`` sends it only once
        (and makes the call safe to retry). An invalid number raises ``UnprocessableEntityError``."""
        return await self._client.request(SmsMessage, "POST", f"{_SMS}/send", timeout=timeout,
                                          json=self._send_body(to, body, idempotency_key, metadata),
                                          idempotent=self._idempotent(idempotency_key))

    async def get(self, sms_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> SmsMessage:
        """One message and its delivery state."""
        return await self._client.request(SmsMessage, "GET", f"{_SMS}/{path_id(sms_id)}", timeout=timeout)

    async def dev_outbox(
        self,
        *,
        to: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> list[SmsOutboxEntry]:
        """What the dev outbox provider kept, newest first (admin; only while that provider is in use)."""
        page = await self._client.request(SmsOutboxPage, "GET", _OUTBOX, params=self._outbox_params(to, limit),
                                          timeout=timeout)
        return page.items
