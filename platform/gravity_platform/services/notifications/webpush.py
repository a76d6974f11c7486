"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), built on pywebpush's
encryption and py_vapid's signing; the request itself goes out through httpx2."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

from gravity_platform.services.notifications.push import PushDeliveryError, PushMessage

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DEFAULT_SUBJECT = "mailto:admin@localhost"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def derived_private_key(seed: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from 32 secret bytes (used when no VAPID key is configured)."""
    value = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(value, ec.SECP256R1())


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A VAPID private key from PEM, or base64url raw (32 bytes) / DER as `vapid --gen` and web-push print."""
    try:
        if "BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError("not an EC key")
            return key
        vapid: Any = Vapid02.from_string(text.strip())
        private: ec.EllipticCurvePrivateKey = vapid.private_key
        return private
    except Exception as error:
        raise ValueError(f"the VAPID private key cannot be read: {error}") from None


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The `applicationServerKey` browsers subscribe with: the uncompressed public point, base64url."""
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64url(point)


class WebPushProvider:
    """The `webpush` push provider. Options: `vapid_private_key`, `vapid_subject`, `timeout` (seconds)."""

    name = "webpush"

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, subject: str = DEFAULT_SUBJECT,
                 *, timeout: float = 10.0) -> None:
        if not subject.startswith(("mailto:", "https://")):
            raise ValueError("vapid_subject must be a mailto: or https: URL")
        self._vapid: Any = Vapid02(private_key=private_key)
        self.subject = subject
        self.public_key = public_key_b64(private_key)
        self._client = httpx2.AsyncClient(timeout=timeout, follow_redirects=False)

    @classmethod
    def from_options(cls, options: dict[str, Any], *, fallback_seed: bytes) -> WebPushProvider:
        """Build from `[service.notifications.push_options]`; without a key, one derived from `fallback_seed`."""
        configured = options.get("vapid_private_key")
        key = load_private_key(str(configured)) if configured else derived_private_key(fallback_seed)
        return cls(key, str(options.get("vapid_subject") or DEFAULT_SUBJECT),
                   timeout=float(options.get("timeout", 10.0)))

    def _headers(self, endpoint: str, ttl: int) -> dict[str, str]:
        url = urlsplit(endpoint)
        claims = {"sub": self.subject, "aud": f"{url.scheme}://{url.netloc}", "exp": int(time.time()) + 12 * 3600}
        headers: dict[str, str] = dict(self._vapid.sign(claims))
        return headers | {"TTL": str(ttl), "Content-Encoding": "aes128gcm",
                          "Content-Type": "application/octet-stream", "Urgency": "normal"}

    async def send(self, message: PushMessage) -> None:
        """Encrypt the message for the subscription and POST it to the push service."""
        endpoint = str(message.subscription.get("endpoint") or "")
        payload = json.dumps({"title": message.title, "body": message.body, "data": message.data}).encode()
        try:
            body = WebPusher(message.subscription).encode(payload, "aes128gcm")["body"]
        except (WebPushException, ValueError, TypeError, KeyError) as error:
            raise PushDeliveryError(f"the subscription cannot be used: {error}", permanent=True) from None
        try:
            response = await self._client.post(endpoint, content=body, headers=self._headers(endpoint, message.ttl))
        except httpx2.HTTPError as error:
            raise PushDeliveryError(f"the push service did not answer: {error!r}") from None
        status = response.status_code
        if status in (200, 201, 202):
            return
        detail = f"the push service answered {status}"
        if status in (404, 410):
            raise PushDeliveryError(detail + " (the subscription is gone)", gone=True)
        if status in (408, 429) or status >= 500:
            raise PushDeliveryError(detail)
        raise PushDeliveryError(detail, permanent=True)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
