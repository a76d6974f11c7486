"""When to retry a request and how long to wait before doing so."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable

import httpx2

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY, RETRY_JITTER, RETRYABLE_STATUS_CODES

NOT_SENT_ERRORS = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
"""Transport errors raised before any byte of the request left: retrying is safe for any method."""


def parse_retry_after(headers: httpx2.Headers, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delay-seconds or HTTP-date), or ``None``."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = moment.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(retries_taken: int, *, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: ``min(0.5 * 2**n, 8)`` seconds, shortened by up to 25 %."""
    base = min(INITIAL_RETRY_DELAY * 2.0 ** min(retries_taken, 32), MAX_RETRY_DELAY)
    return base * (1.0 - RETRY_JITTER * rand())


def retry_delay(retries_taken: int, headers: httpx2.Headers | None = None) -> float:
    """The wait before the next attempt: the server's ``Retry-After`` (capped) if given, else backoff."""
    retry_after = parse_retry_after(headers) if headers is not None else None
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return backoff_delay(retries_taken)


def is_retryable_status(status_code: int) -> bool:
    """Whether a response status means the same request may succeed later."""
    return status_code in RETRYABLE_STATUS_CODES
