"""An email transport for Gravity that POSTs each message as JSON to a URL, signed with HMAC-SHA256.

Configure it on the nodes hosting the email service::

    [service.email]
    transport = "webhook"

    [service.email.transport_options]
    url = "https://mail-api.example.com/gravity"
    secret = "a long random string shared with the receiver"
"""

from gravity_webhook_email.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from gravity_webhook_email.transport import WebhookOptions, WebhookTransport

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookOptions", "WebhookTransport", "sign", "verify"]
