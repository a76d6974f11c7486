"""The email service plugin."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from litestar.types import ControllerRouterHandler
from pydantic import ValidationError

from gravity_platform.kernel.errors import NotFoundError
from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.kernel.plugins import BusHandler, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.services.email.settings import EmailSettings
from gravity_platform.services.email.tables import DB, TABLES

if TYPE_CHECKING:
    from gravity_platform.devstack.mailbox import Mailbox
    from gravity_platform.services.email.transport import EmailTransport

log = logging.getLogger("gravity.email")


class EmailService(Service):
    """Email delivery over SMTP, with a mail catcher for local development (port 8091)."""

    name = "email"
    port = 8091
    description = "Email delivery over SMTP, with a mail catcher for local development"
    route_prefixes = ("/api/v1/email",)
    settings_model = EmailSettings
    database = DB
    migrations_module = "gravity_platform.services.email.piccolo_migrations"
    tables = TABLES

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.email.services import Emails
        from gravity_platform.services.email.worker import DeliveryWorker

        self.settings = EmailSettings()
        self.logic = Emails(self)
        self.worker = DeliveryWorker(self)
        self.transport: EmailTransport | None = None

    def attach(self, node: Any) -> None:
        super().attach(node)
        self.settings = node.settings.for_service(self.name, EmailSettings)

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.email.controllers import EmailController

        return [service_router(self, [EmailController])]

    def bus_endpoints(self) -> dict[str, BusHandler]:
        from gravity_platform.services.email.endpoints import bus_endpoints

        return bus_endpoints(self)

    async def start(self) -> None:
        self.transport = self._load_transport()
        self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        if self.transport is not None:
            await self.transport.close()

    def _load_transport(self) -> EmailTransport | None:
        """The configured transport from the `gravity_email_transport` hook; None (mail refused) if unusable."""
        name = self.settings.transport
        if name is None:
            log.warning("no email transport configured: the email service accepts no mail")
            return None
        try:
            transport: EmailTransport | None = self.node.hooks.hook.gravity_email_transport(
                name=name, options=dict(self.settings.transport_options))
        except (ValidationError, ValueError, TypeError) as error:
            log.error("the email transport's options are not valid; no mail is accepted",
                      extra={"transport": name, "error": str(error)})
            return None
        if transport is None:
            log.error("no installed plugin provides the email transport; no mail is accepted",
                      extra={"transport": name})
        return transport

    def default_sender(self) -> str | None:
        """The From address mail gets when the caller names none."""
        return self.settings.sender or self.settings.transport_options.get("sender")

    async def render(self, template: str, data: dict[str, Any], locale: str | None) -> dict[str, Any]:
        """Render a notifications template for the email channel (in-process or over NATS)."""
        payload = {"template": template, "channel": "email", "data": data, "locale": locale}
        answer: dict[str, Any] = json.loads(
            await self.node.bus.request("notifications", "render", json.dumps(payload).encode()))
        return answer

    def catcher(self) -> Mailbox:
        """The dev mail catcher's mailbox; 404 when this node does not send through one."""
        from gravity_platform.devstack.mailbox import Mailbox

        if self.settings.catcher_dir is None:
            raise NotFoundError("This node does not send through the dev mail catcher")
        return Mailbox(self.settings.catcher_dir)

    @hookimpl
    def gravity_email_transport(self, name: str, options: dict[str, Any]) -> EmailTransport | None:
        """The built-in `smtp` transport."""
        if name != "smtp":
            return None
        from gravity_platform.services.email.smtp import SmtpOptions, SmtpTransport

        return SmtpTransport(SmtpOptions.model_validate(options))
