"""Typed Python client for Gravity.

>>> from gravity_sdk import Gravity
>>> with Gravity() as client:
...     client.auth.login(email="ada@example.com", password="...")
...     me = client.users.me()
"""

from ._client import AsyncGravity, Gravity
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GravityError,
    InternalServerError,
    MFARequiredError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._pagination import AsyncCursorPage, AsyncPaginator, SyncCursorPage
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__
from .types import ApiKey, ApiKeyCreated, Problem, TokenResponse, Tokens, TotpEnrollment, User, UserInfo

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ApiKey",
    "ApiKeyCreated",
    "AsyncCursorPage",
    "AsyncGravity",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Gravity",
    "GravityError",
    "InternalServerError",
    "MFARequiredError",
    "NotFoundError",
    "NotGiven",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Problem",
    "RateLimitError",
    "SyncCursorPage",
    "TokenResponse",
    "Tokens",
    "TotpEnrollment",
    "UnprocessableEntityError",
    "User",
    "UserInfo",
    "__version__",
]
