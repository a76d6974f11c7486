"""How a webhook request is signed, and how a receiver checks it.

The signature is `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under the shared secret, sent in
`X-Gravity-Signature` with the Unix time in `X-Gravity-Timestamp`. A receiver recomputes it, compares in constant
time, and refuses old timestamps so a captured request cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Gravity-Signature"
TIMESTAMP_HEADER = "X-Gravity-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """Whether `signature` is valid for `body` and `timestamp` is within `tolerance` seconds of now."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)
