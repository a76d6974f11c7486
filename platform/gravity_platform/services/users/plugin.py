"""The users service plugin."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from litestar.types import ControllerRouterHandler

from gravity_platform.kernel.plugins import BusHandler, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.services.users.cache import CHANGED_TOPIC
from gravity_platform.services.users.tables import DB, TABLES, Profile


class UsersService(Service):
    """Profiles, roles and permissions (port 8082)."""

    name = "users"
    port = 8082
    description = "Profiles, roles and permissions, admin listing and search"
    route_prefixes = ("/api/v1/users",)
    database = DB
    migrations_module = "gravity_platform.services.users.piccolo_migrations"
    tables = TABLES

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.users.services import Users

        self.logic = Users(self)

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.users.controllers import UsersController

        return [service_router(self, [UsersController])]

    async def start(self) -> None:
        await self.node.bus.subscribe(CHANGED_TOPIC, self._on_changed)
        self.node.bus.add_reconnect_hook(self._on_bus_reconnected)

    async def _on_changed(self, payload: bytes) -> None:
        """Another node (or this one) changed a profile: drop it from the cache (all of them if unnamed)."""
        if payload:
            self.logic.cache.invalidate(payload.decode())
        else:
            self.logic.cache.clear()

    async def _on_bus_reconnected(self) -> None:
        """Changes broadcast while this node was cut off never reached it: start the cache afresh."""
        self.logic.cache.clear()

    def bus_endpoints(self) -> dict[str, BusHandler]:
        return {"upsert_profile": self._upsert, "principal": self._principal,
                "set_email_verified": self._set_email_verified}

    def access_token_ttl(self) -> int:
        """How long access tokens live (the auth service's setting), for deny-list lifetimes."""
        return int(self.node.settings.service.get("auth", {}).get("access_token_ttl", 300)) + 5

    async def call_auth(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call the auth service (in-process or over NATS)."""
        answer: dict[str, Any] = json.loads(await self.node.bus.request("auth", endpoint, json.dumps(payload).encode()))
        return answer

    async def _upsert(self, payload: bytes, _: dict[str, str]) -> bytes:
        request = json.loads(payload)
        user = await self.logic.upsert(request["id"], request["email"], request.get("display_name"),
                                       list(request.get("roles") or ["user"]))
        import msgspec

        return msgspec.json.encode(user)

    async def _principal(self, payload: bytes, _: dict[str, str]) -> bytes:
        request = json.loads(payload)
        row = await Profile.select(Profile.roles, Profile.is_active, Profile.display_name).where(
            Profile.id == request["id"]).first()
        if row is None:
            return json.dumps({"is_active": False, "roles": []}).encode()
        return json.dumps({"is_active": row["is_active"], "roles": list(row["roles"]),
                           "display_name": row["display_name"]}).encode()

    async def _set_email_verified(self, payload: bytes, _: dict[str, str]) -> bytes:
        request = json.loads(payload)
        await self.logic.set_email_verified(request["id"], bool(request["email_verified"]))
        return b"{}"
