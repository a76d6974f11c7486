"""The `webhook` email transport."""

from __future__ import annotations

import json
import time

import httpx2
from pydantic import BaseModel, Field, HttpUrl, SecretStr

from gravity_platform.services.email.transport import DeliveryError, EmailMessage
from gravity_webhook_email.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class WebhookOptions(BaseModel):
    """`[service.email.transport_options]` when `transport = "webhook"`."""

    url: HttpUrl
    secret: SecretStr = Field(min_length=16)
    sender: str = "Gravity <no-reply@gravity.local>"
    timeout: float = Field(10.0, gt=0)


class WebhookTransport:
    """POSTs each message as JSON; 2xx means delivered, 5xx/408/429 and network errors are retried,
    any other answer fails the message for good."""

    name = "webhook"

    def __init__(self, options: WebhookOptions) -> None:
        self.options = options
        self.client = httpx2.AsyncClient(timeout=options.timeout)

    def payload(self, message: EmailMessage) -> bytes:
        """The JSON document sent for `message`."""
        return json.dumps({
            "message_id": message.message_id, "from": message.sender or self.options.sender, "to": message.to,
            "reply_to": message.reply_to, "subject": message.subject, "text": message.text, "html": message.html,
            "headers": message.headers,
        }, separators=(",", ":")).encode()

    async def send(self, message: EmailMessage) -> str | None:
        """Deliver `message`; returns the receiver's `id` when its JSON answer has one."""
        body = self.payload(message)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(self.options.secret.get_secret_value(), timestamp, body)}
        if message.message_id:
            headers["Idempotency-Key"] = message.message_id
        try:
            response = await self.client.post(str(self.options.url), content=body, headers=headers)
        except httpx2.HTTPError as error:
            raise DeliveryError(f"webhook unreachable: {type(error).__name__}: {error}") from None
        if response.is_success:
            try:
                answer = response.json()
            except ValueError:
                return None
            return str(answer["id"]) if isinstance(answer, dict) and "id" in answer else None
        retry = response.status_code >= 500 or response.status_code in RETRYABLE_STATUSES
        raise DeliveryError(f"webhook answered {response.status_code}", permanent=not retry)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self.client.aclose()
