"""Defaults shared by the synchronous and asynchronous clients."""

from __future__ import annotations

from typing import Final

from ._version import __version__

BASE_URL_ENV: Final = "GRAVITY_BASE_URL"
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 2
USER_AGENT: Final = f"gravity-sdk/{__version__}"

INITIAL_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 8.0
RETRY_JITTER: Final = 0.25
"""Each backoff delay is shortened by a random fraction of up to this much."""
MAX_RETRY_AFTER: Final = 60.0
"""Longest wait the client accepts from a server's ``Retry-After`` header."""

RETRYABLE_STATUS_CODES: Final = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

REFRESH_LEEWAY: Final = 30.0
"""Refresh the access token when it expires within this many seconds."""

TOKEN_PATH: Final = "/oauth2/token"  # noqa: S105
REVOKE_PATH: Final = "/oauth2/revoke"
MFA_OTP_GRANT: Final = "urn:gravity:params:oauth:grant-type:mfa-otp"
