"""The Twilio provider: creates messages through Twilio's REST API and reads its signed status callbacks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import msgspec

from gravity_platform.services.sms.provider import (
    SmsCallbackError,
    SmsDeliveryError,
    SmsMessage,
    SmsStatusUpdate,
)
from gravity_twilio.options import TwilioOptions
from gravity_twilio.signature import validate_signature

log = logging.getLogger("gravity.twilio")

NAME = "twilio"
USER_AGENT = "gravity-twilio/0.1.0"
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""HTTP answers worth retrying: timeouts, rate limits (Twilio error 20429) and server-side trouble."""
_DELIVERED = frozenset({"delivered", "read"})
_FAILED = frozenset({"failed", "undelivered", "canceled"})


class TwilioError(msgspec.Struct):
    """Twilio's error document: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`."""

    code: int | None = None
    message: str | None = None


class TwilioMessage(msgspec.Struct):
    """The parts of Twilio's Message resource this provider reads."""

    sid: str
    status: str | None = None
    error_code: int | None = None
    error_message: str | None = None


def _describe(response: httpx2.Response) -> str:
    try:
        error = msgspec.json.decode(response.content, type=TwilioError)
    except (msgspec.DecodeError, msgspec.ValidationError):
        snippet = response.text[:200].strip() or response.reason_phrase
        return f"Twilio answered HTTP {response.status_code}: {snippet}"
    code = f" {error.code}" if error.code is not None else ""
    return f"Twilio error{code}: {error.message or response.reason_phrase} (HTTP {response.status_code})"


class TwilioProvider:
    """An `SmsProvider` (and `SmsStatusCallbacks`) speaking Twilio's 2010-04-01 REST API."""

    name = NAME

    def __init__(self, options: TwilioOptions, *, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.options = options
        self._client = httpx2.AsyncClient(auth=httpx2.BasicAuth(*options.credentials), timeout=options.timeout,
                                          headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                                          transport=transport)

    def _form(self, message: SmsMessage) -> dict[str, str]:
        form = {"To": message.to, "Body": message.body}
        if self.options.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self.options.messaging_service_sid
            if message.sender:
                form["From"] = message.sender
        else:
            form["From"] = message.sender or self.options.from_number or ""
        callback = self.options.status_callback_url or message.status_callback
        if callback and self.options.auth_token:  # callbacks are signed with the auth token: none to check without
            form["StatusCallback"] = callback
        return form

    async def send(self, message: SmsMessage) -> str | None:
        """Create the message at Twilio; returns its SID (`SM...`). Raises `SmsDeliveryError`, permanent for
        answers no retry can change (an invalid or unreachable number, an account not allowed to send)."""
        try:
            response = await self._client.post(self.options.messages_url, data=self._form(message))
        except httpx2.TransportError as error:
            raise SmsDeliveryError(f"Twilio could not be reached: {error!r}") from error
        if response.is_success:
            try:
                created = msgspec.json.decode(response.content, type=TwilioMessage)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                raise SmsDeliveryError(f"Twilio answered {response.status_code} without a message SID") from error
            if created.status in _FAILED:
                raise SmsDeliveryError(f"Twilio error {created.error_code}: {created.error_message or created.status}",
                                       permanent=True)
            return created.sid
        raise SmsDeliveryError(_describe(response), permanent=response.status_code not in TRANSIENT_STATUSES)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def parse_status_callback(self, url: str, headers: Mapping[str, str], body: bytes) -> SmsStatusUpdate | None:
        """Verify `X-Twilio-Signature` over the URL Twilio was given and the form, check the account, and read
        `MessageSid` / `MessageStatus` (/ `ErrorCode`)."""
        token = self.options.auth_token
        if token is None:
            raise SmsCallbackError("no auth_token is configured to verify Twilio's signature with")
        if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            raise SmsCallbackError("a Twilio status callback is a form post")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise SmsCallbackError("the form cannot be parsed") from None
        signed_url = self.options.status_callback_url or url
        if not validate_signature(token, signed_url, pairs, headers.get("x-twilio-signature")):
            raise SmsCallbackError("the X-Twilio-Signature does not match")
        form: dict[str, Any] = dict(pairs)
        if form.get("AccountSid") != self.options.account_sid:
            raise SmsCallbackError("the callback is for another Twilio account")
        return _update(form)


def _update(form: Mapping[str, str]) -> SmsStatusUpdate | None:
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        return None
    if status in _DELIVERED:
        return SmsStatusUpdate(provider_message_id=sid, status="delivered")
    if status in _FAILED:
        code = form.get("ErrorCode")
        detail = form.get("ErrorMessage") or status
        error = f"Twilio error {code}: {detail}" if code else f"Twilio reported the message {status}"
        return SmsStatusUpdate(provider_message_id=sid, status="failed", error=error)
    if status == "sent":
        return SmsStatusUpdate(provider_message_id=sid, status="sent")
    log.debug("twilio status ignored", extra={"sid": sid, "status": status})
    return None
