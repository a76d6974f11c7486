"""Resource classes behind ``client.auth``, ``client.users``, ``client.files``, ``client.realtime`` ..."""

from .api_keys import ApiKeys, AsyncApiKeys
from .auth import AsyncAuth, Auth
from .email import AsyncEmails, Emails
from .files import AsyncFiles, Files
from .notifications import AsyncNotifications, AsyncNotificationTemplates, Notifications, NotificationTemplates
from .realtime import AsyncRealtime, Realtime
from .sms import AsyncSms, Sms
from .users import AsyncUsers, Users

__all__ = [
    "ApiKeys",
    "AsyncApiKeys",
    "AsyncAuth",
    "AsyncEmails",
    "AsyncFiles",
    "AsyncNotificationTemplates",
    "AsyncNotifications",
    "AsyncRealtime",
    "AsyncSms",
    "AsyncUsers",
    "Auth",
    "Emails",
    "Files",
    "NotificationTemplates",
    "Notifications",
    "Realtime",
    "Sms",
    "Users",
]
