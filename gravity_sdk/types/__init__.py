"""Wire models returned by the Gravity API (msgspec Structs)."""

from .api_key import ApiKey, ApiKeyCreated
from .auth import TokenResponse, Tokens, TotpEnrollment
from .problem import Problem
from .user import User, UserInfo

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Problem",
    "TokenResponse",
    "Tokens",
    "TotpEnrollment",
    "User",
    "UserInfo",
]
