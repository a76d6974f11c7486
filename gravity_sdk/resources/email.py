"""``client.email``: send email (admins and service clients with ``email:send``) and follow its delivery."""

from __future__ import annotations

from typing import Any

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.email import CaughtEmail, CaughtEmailPage, Email

__all__ = ["AsyncEmails", "Emails"]

_EMAIL = "/api/v1/email"
_CAUGHT = "/api/v1/email/dev/messages"


class _EmailsBase(APIResource[ClientT]):
    @staticmethod
    def _send_body(to: list[str], fields: dict[str, Any]) -> dict[str, Any]:
        return {"to": to, **strip_not_given(fields)}

    @staticmethod
    def _idempotent(idempotency_key: str | NotGiven | None) -> bool:
        """A send with an idempotency key is safe to retry: the server sends it once."""
        return isinstance(idempotency_key, str)


class Emails(_EmailsBase[SyncAPIClient]):
    """Email: queued at once, delivered by the server's transport with retries."""

    def send(
        self,
        *,
        to: list[str],
        subject: str | NotGiven = NOT_GIVEN,
        text: str | NotGiven = NOT_GIVEN,
        html: str | NotGiven | None = NOT_GIVEN,
        template: str | NotGiven = NOT_GIVEN,
        data: dict[str, Any] | NotGiven = NOT_GIVEN,
        locale: str | NotGiven = NOT_GIVEN,
        reply_to: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> Email:
        """Queue an email: ``subject`` and ``text`` (and ``html``), or a notifications ``template`` with its
        ``data``. The same ``idempotency_key`` sends it only once (and makes the call safe to retry). An invalid
        address raises ``UnprocessableEntityError``."""
        body = self._send_body(to, {"subject": subject, "text": text, "html": html, "template": template,
                                    "data": data, "locale": locale, "reply_to": reply_to,
                                    "idempotency_key": idempotency_key, "metadata": metadata})
        return self._client.request(Email, "POST", f"{_EMAIL}/send", json=body, timeout=timeout,
                                    idempotent=self._idempotent(idempotency_key))

    def get(self, email_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> Email:
        """One email and its delivery state."""
        return self._client.request(Email, "GET", f"{_EMAIL}/{path_id(email_id)}", timeout=timeout)

    def caught(self, *, limit: int | NotGiven = NOT_GIVEN,
               timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> list[CaughtEmail]:
        """What the dev mail catcher holds, newest first (admin; only on a node sending through it)."""
        page = self._client.request(CaughtEmailPage, "GET", _CAUGHT, params=strip_not_given({"limit": limit}),
                                    timeout=timeout)
        return page.items

    def caught_message(self, message_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> CaughtEmail:
        """One caught message with its headers, text and HTML."""
        return self._client.request(CaughtEmail, "GET", f"{_CAUGHT}/{path_id(message_id)}", timeout=timeout)


class AsyncEmails(_EmailsBase[AsyncAPIClient]):
    """Email: queued at once, delivered by the server's transport with retries."""

    async def send(
        self,
        *,
        to: list[str],
        subject: str | NotGiven = NOT_GIVEN,
        text: str | NotGiven = NOT_GIVEN,
        html: str | NotGiven | None = NOT_GIVEN,
        template: str | NotGiven = NOT_GIVEN,
        data: dict[str, Any] | NotGiven = NOT_GIVEN,
        locale: str | NotGiven = NOT_GIVEN,
        reply_to: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> Email:
        """Queue an email: ``subject`` and ``text`` (and ``html``), or a notifications ``template`` with its
        ``data``. The same ``idempotency_key`` sends it only once (and makes the call safe to retry). An invalid
        address raises ``UnprocessableEntityError``."""
        body = self._send_body(to, {"subject": subject, "text": text, "html": html, "template": template,
                                    "data": data, "locale": locale, "reply_to": reply_to,
                                    "idempotency_key": idempotency_key, "metadata": metadata})
        return await self._client.request(Email, "POST", f"{_EMAIL}/send", json=body, timeout=timeout,
                                          idempotent=self._idempotent(idempotency_key))

    async def get(self, email_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> Email:
        """One email and its delivery state."""
        return await self._client.request(Email, "GET", f"{_EMAIL}/{path_id(email_id)}", timeout=timeout)

    async def caught(self, *, limit: int | NotGiven = NOT_GIVEN,
                     timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> list[CaughtEmail]:
        """What the dev mail catcher holds, newest first (admin; only on a node sending through it)."""
        page = await self._client.request(CaughtEmailPage, "GET", _CAUGHT,
                                          params=strip_not_given({"limit": limit}), timeout=timeout)
        return page.items

    async def caught_message(self, message_id: str, *,
                             timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> CaughtEmail:
        """One caught message with its headers, text and HTML."""
        return await self._client.request(CaughtEmail, "GET", f"{_CAUGHT}/{path_id(message_id)}",
                                          timeout=timeout)
