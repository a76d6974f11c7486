"""The notifications service plugin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from litestar.types import ControllerRouterHandler

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.kernel.plugins import BusHandler, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.services.notifications.push import PushProvider
from gravity_platform.services.notifications.settings import NotificationsSettings
from gravity_platform.services.notifications.tables import DB, TABLES

log = logging.getLogger("gravity.notifications")

SELF = "notifications:self"
"""What every signed-in user may do with their own inbox, preferences and push subscriptions."""


class NotificationsService(Service):
    """Templates, channel preferences, fan-out to email, SMS, push and the in-app inbox (port 8083)."""

    name = "notifications"
    port = 8083
    description = "Templates, channel preferences, fan-out to email, SMS, push and the in-app inbox"
    requires = ("users",)
    route_prefixes = ("/api/v1/notifications",)
    settings_model = NotificationsSettings
    database = DB
    migrations_module = "gravity_platform.services.notifications.piccolo_migrations"
    tables = TABLES

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.notifications.delivery import Deliverer
        from gravity_platform.services.notifications.events import EventFollower
        from gravity_platform.services.notifications.inbox import Inbox
        from gravity_platform.services.notifications.preferences import Contacts
        from gravity_platform.services.notifications.sending import Sender
        from gravity_platform.services.notifications.templates import Templates

        self.settings = NotificationsSettings()
        self.templates = Templates()
        self.contacts = Contacts()
        self.sender = Sender(self)
        self.inbox = Inbox(self)
        self.deliverer = Deliverer(self)
        self.events = EventFollower(self)
        self.push_provider: PushProvider | None = None
        self._workers: list[Any] = []

    def attach(self, node: Any) -> None:
        super().attach(node)
        self.settings = node.settings.for_service(self.name, NotificationsSettings)

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.notifications.controllers import (
            InboxController,
            NotificationsController,
            PreferencesController,
            TemplatesController,
        )

        return [service_router(self, [TemplatesController, NotificationsController, PreferencesController,
                                      InboxController])]

    def bus_endpoints(self) -> dict[str, BusHandler]:
        return {"render": self._bus_render, "send": self._bus_send}

    async def _bus_render(self, payload: bytes, _: dict[str, str]) -> bytes:
        from gravity_platform.services.notifications.endpoints import render

        return await render(self, payload)

    async def _bus_send(self, payload: bytes, _: dict[str, str]) -> bytes:
        from gravity_platform.services.notifications.endpoints import send

        return await send(self, payload)

    @hookimpl
    def gravity_role_permissions(self) -> dict[str, list[str]]:
        """Signed-in users manage their own inbox, preferences and push subscriptions."""
        return {"user": [SELF]}

    @hookimpl
    def gravity_push_provider(self, name: str, options: dict[str, Any]) -> PushProvider | None:
        """The built-in Web Push (VAPID) provider, `push_provider = "webpush"`."""
        if name != "webpush":
            return None
        from gravity_platform.services.notifications.webpush import WebPushProvider

        return WebPushProvider.from_options(options, fallback_seed=self.node.master_key.derive("notifications:vapid"))

    async def start(self) -> None:
        self.push_provider = self._load_push_provider()
        from gravity_platform.services.notifications.events import SUBJECTS
        from gravity_platform.services.notifications.jobs import STREAM, Worker, ensure_streams
        from gravity_platform.services.notifications.schemas import CHANNELS

        bus, settings = self.node.bus, self.settings
        for channel in CHANNELS:
            worker = Worker(bus, stream=STREAM, durable=f"notifications-{channel}",
                            subjects=[f"gravity.notify.job.{channel}"], handler=self.deliverer.handle,
                            ack_wait=settings.ack_wait, max_deliver=settings.max_attempts + 2, deliver_all=True)
            worker.before_first_pull = lambda: ensure_streams(bus)
            self._workers.append(worker)
        self._workers.append(Worker(bus, stream="GRAVITY_EVENTS", durable="notifications-events", subjects=SUBJECTS,
                                    handler=self.events.handle, ack_wait=settings.ack_wait, deliver_all=True))
        for worker in self._workers:
            worker.start()

    def _load_push_provider(self) -> PushProvider | None:
        name = self.settings.push_provider
        if not name:
            return None
        try:
            provider: PushProvider | None = self.node.hooks.hook.gravity_push_provider(
                name=name, options=self.settings.push_options)
        except ValueError as error:
            log.error("the push provider is misconfigured; push is off", extra={"error": str(error)})
            return None
        if provider is None:
            log.error("no plugin provides the push provider; push is off", extra={"provider": name})
        return provider

    async def stop(self) -> None:
        for worker in self._workers:
            await worker.stop()
        self._workers.clear()
        if self.push_provider is not None:
            await self.push_provider.close()

