"""The sms service plugin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from litestar.types import ControllerRouterHandler

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.kernel.plugins import BusHandler, PluginError, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.services.sms.provider import SmsProvider
from gravity_platform.services.sms.settings import SmsSettings
from gravity_platform.services.sms.tables import DB, TABLES

log = logging.getLogger("gravity.sms")

CALLBACK_PATH = "/api/v1/sms/callbacks"


class SmsService(Service):
    """SMS delivery through provider plugins, with an outbox for local development (port 8092)."""

    name = "sms"
    port = 8092
    description = "SMS delivery through provider plugins, with an outbox for local development"
    route_prefixes = ("/api/v1/sms",)
    settings_model = SmsSettings
    database = DB
    migrations_module = "gravity_platform.services.sms.piccolo_migrations"
    tables = TABLES

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.sms.services import SmsLogic
        from gravity_platform.services.sms.worker import DeliveryWorker

        self.settings = SmsSettings()
        self.logic = SmsLogic(self)
        self.worker = DeliveryWorker(self)
        self.provider: SmsProvider | None = None

    def attach(self, node: Any) -> None:
        super().attach(node)
        self.settings = node.settings.for_service(self.name, SmsSettings)

    @property
    def provider_name(self) -> str | None:
        """The configured provider ("outbox" by default in dev; None when SMS is not configured)."""
        return self.settings.provider_name(self.node.settings.environment)

    def callback_url(self, provider: str) -> str:
        """The public URL a provider reports delivery of its messages to (from settings, never a Host header)."""
        base = (self.settings.public_url or self.node.settings.public_url).rstrip("/")
        return f"{base}{CALLBACK_PATH}/{provider}"

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.sms.controllers import SmsController

        return [service_router(self, [SmsController])]

    def bus_endpoints(self) -> dict[str, BusHandler]:
        from gravity_platform.services.sms.endpoints import bus_endpoints

        return bus_endpoints(self)

    async def start(self) -> None:
        name = self.provider_name
        if name is None:
            log.error("no SMS provider is configured: set [service.sms] provider; sending answers 503")
            return
        provider = self.node.hooks.hook.gravity_sms_provider(name=name, options=dict(self.settings.provider_options))
        if provider is None:
            raise PluginError(f"no installed plugin provides the SMS provider {name!r} ([service.sms] provider)")
        if name == "outbox" and self.node.settings.environment != "dev":
            log.warning("the dev outbox SMS provider is in use outside dev: no message leaves this platform")
        self.provider = provider
        self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        if self.provider is not None:
            await self.provider.close()
            self.provider = None

    @hookimpl
    def gravity_sms_provider(self, name: str, options: dict[str, Any]) -> SmsProvider | None:
        """The built-in "outbox" provider: keeps messages for the developer instead of sending them."""
        from gravity_platform.services.sms.devoutbox import NAME, OutboxProvider

        return OutboxProvider() if name == NAME else None

