"""Resource classes behind ``client.auth``, ``client.auth.api_keys``, ``client.users`` and ``client.files``."""

from .api_keys import ApiKeys, AsyncApiKeys
from .auth import AsyncAuth, Auth
from .email import AsyncEmails, Emails
from .files import AsyncFiles, Files
from .notifications import AsyncNotifications, AsyncNotificationTemplates, Notifications, NotificationTemplates
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
    "AsyncSms",
    "AsyncUsers",
    "Auth",
    "Emails",
    "Files",
    "NotificationTemplates",
    "Notifications",
    "Sms",
    "Users",
]
