"""Wire models returned by the Gravity API (msgspec Structs)."""

from .api_key import ApiKey, ApiKeyCreated
from .auth import TokenResponse, Tokens, TotpEnrollment
from .email import CaughtEmail, Email, EmailStatus
from .file import File, SignedUrl
from .notification import (
    Delivery,
    InboxItem,
    Notification,
    Preferences,
    PushSubscription,
    SendResult,
    Template,
    TemplateChannels,
)
from .problem import Problem
from .sms import SmsMessage, SmsOutboxEntry, SmsStatus
from .user import User, UserInfo

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "CaughtEmail",
    "Delivery",
    "Email",
    "EmailStatus",
    "File",
    "InboxItem",
    "Notification",
    "Preferences",
    "Problem",
    "PushSubscription",
    "SendResult",
    "SignedUrl",
    "SmsMessage",
    "SmsOutboxEntry",
    "SmsStatus",
    "Template",
    "TemplateChannels",
    "TokenResponse",
    "Tokens",
    "TotpEnrollment",
    "User",
    "UserInfo",
]
