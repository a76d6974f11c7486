"""The built-in `smtp` transport: any SMTP relay, with STARTTLS, implicit TLS or neither, and AUTH."""

from __future__ import annotations

import ssl
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, Field, SecretStr

from gravity_platform.services.email.transport import DeliveryError, EmailMessage, to_mime


class SmtpOptions(BaseModel):
    """`[service.email.transport_options]` of the smtp transport.

    `tls`: `"starttls"` (upgrade on port 587, required), `"implicit"` (TLS from the first byte, port 465) or
    `"none"` (plain, e.g. a relay on localhost or the dev mail catcher). `ca_file` trusts an extra CA
    (a private relay); `verify = false` turns certificate checks off (never in production)."""

    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "Gravity <no-reply@gravity.local>"
    timeout: float = Field(30.0, gt=0)
    ca_file: str | None = None
    verify: bool = True
    local_hostname: str | None = None


class SmtpTransport:
    """Delivers each message over its own SMTP session (simple, and a broken session never affects another)."""

    name = "smtp"

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.options.tls == "none":
            return None
        context = ssl.create_default_context(cafile=self.options.ca_file)
        if not self.options.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def send(self, message: EmailMessage) -> str | None:
        """Deliver `message`; 5xx replies are permanent failures, everything else may be retried."""
        options = self.options
        password = options.password.get_secret_value() if options.password else None
        client = aiosmtplib.SMTP(
            hostname=options.host, port=options.port, username=options.username, password=password,
            use_tls=options.tls == "implicit", start_tls=options.tls == "starttls", tls_context=self._tls_context(),
            timeout=options.timeout, local_hostname=options.local_hostname or "localhost",
        )
        mime = to_mime(message, sender=options.sender)
        try:
            async with client:
                refused, reply = await client.send_message(mime)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
            raise DeliveryError(f"every recipient was refused ({detail})",
                                permanent=all(code >= 500 for code in codes)) from None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"the relay refused our credentials: {error.code} {error.message}") from None
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(f"the relay answered {error.code} {error.message}",
                                permanent=500 <= error.code < 600) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"could not talk to {options.host}:{options.port}: {error}") from None
        if refused:
            raise DeliveryError(
                "some recipients were refused: " + "; ".join(f"{a}: {r.code} {r.message}" for a, r in refused.items()),
                permanent=True, delivered=True)
        return reply.strip() or None

    async def close(self) -> None:
        """Nothing is kept open between messages."""
