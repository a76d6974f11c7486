"""The plugin host: services and hook implementations found through the `gravity.plugins` entry points.

Built-in services load through exactly the same path as third-party ones."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pluggy
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from gravity_platform import __version__
from gravity_platform.kernel import hookspecs

if TYPE_CHECKING:
    from piccolo.conf.apps import AppConfig as PiccoloApp

    from gravity_platform.kernel.db import ServiceDatabase
    from gravity_platform.kernel.node import Node

log = logging.getLogger("gravity.plugins")

ENTRY_POINT_GROUP = "gravity.plugins"

BusHandler = Callable[[bytes, dict[str, str]], Awaitable[bytes]]
"""An in-process endpoint: payload and headers in, payload out; raise a GravityError to answer an error."""


class PluginError(RuntimeError):
    """A plugin could not be loaded or the requested services cannot be assembled."""


class Service(InitPlugin):
    """Base class of every service. A subclass declares what it is and what it brings; the node does the rest.

    Class attributes: `name`, `port` (when run alone), `description`, `requires` (services it calls),
    `route_prefixes` (HTTP paths it owns, so a gateway elsewhere can route to it), `settings_model`,
    `database` (its ServiceDatabase), `migrations_module` (dotted path of its Piccolo migrations) and
    `sealed_columns` (`(table, column)` pairs holding values sealed with the master key, re-wrapped when the
    master key is rotated) and `streamed_routes` (`(methods, path pattern)` pairs whose bodies a gateway on
    another node streams over HTTP instead of carrying them over NATS; see gateway/streaming.py)."""

    name: ClassVar[str]
    port: ClassVar[int]
    description: ClassVar[str] = ""
    version: ClassVar[str] = __version__
    requires: ClassVar[tuple[str, ...]] = ()
    route_prefixes: ClassVar[tuple[str, ...]] = ()
    settings_model: ClassVar[type[BaseModel] | None] = None
    database: ClassVar[ServiceDatabase | None] = None
    migrations_module: ClassVar[str | None] = None
    tables: ClassVar[tuple[type[Any], ...]] = ()
    sealed_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    streamed_routes: ClassVar[tuple[tuple[frozenset[str], str], ...]] = ()

    def __init__(self) -> None:
        self._node: Node | None = None

    @property
    def node(self) -> Node:
        """The node hosting this service (set before `start`)."""
        if self._node is None:
            raise RuntimeError(f"service {self.name} is not attached to a node yet")
        return self._node

    def attach(self, node: Node) -> None:
        """Called by the node before the app is built."""
        self._node = node

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        """Litestar controllers and routers of this service."""
        return []

    def bus_endpoints(self) -> dict[str, BusHandler]:
        """NATS micro endpoints, served at `gravity.<service>.<name>` in the queue group `<service>`."""
        return {}

    def poke_outbox(self) -> None:
        """Relay this service's freshly committed outbox events now rather than at the next poll."""
        for relay in self.node.relays:
            if relay.service == self.name:
                relay.poke()

    async def start(self) -> None:
        """Start background work (consumers, relays) once the node's connections exist."""

    async def stop(self) -> None:
        """Stop background work; called while draining."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add this service's routes to the node app (Litestar InitPlugin)."""
        app_config.route_handlers.extend(self.route_handlers())
        return app_config

    def piccolo_app(self) -> PiccoloApp | None:
        """This service's Piccolo app (its migrations), if it has a database."""
        if self.migrations_module is None:
            return None
        from piccolo.conf.apps import AppConfig as PiccoloAppConfig

        module = importlib.import_module(self.migrations_module)
        folder = getattr(module, "__path__", [None])[0]
        return PiccoloAppConfig(app_name=self.name, migrations_folder_path=folder, table_classes=list(self.tables))


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def discover(allow: Sequence[str] | None = None) -> tuple[dict[str, type[Service]], list[object]]:
    """Load every `gravity.plugins` entry point (or only those in `allow`): services and hook implementations."""
    services: dict[str, type[Service]] = {}
    hook_plugins: list[object] = []
    for entry_point in _entry_points():
        if allow is not None and entry_point.name not in allow:
            continue
        try:
            loaded = entry_point.load()
        except Exception as error:
            raise PluginError(f"plugin {entry_point.name!r} failed to load: {error}") from error
        if isinstance(loaded, type) and issubclass(loaded, Service):
            if loaded.name in services and services[loaded.name] is not loaded:
                raise PluginError(f"two plugins provide the service {loaded.name!r}")
            services[loaded.name] = loaded
        else:
            hook_plugins.append(loaded)
    return services, hook_plugins


def discover_services(allow: Sequence[str] | None = None) -> dict[str, Service]:
    """Instances of every installed service, by name."""
    return {name: cls() for name, cls in discover(allow)[0].items()}


def resolve_order(services: dict[str, Service], wanted: Sequence[str]) -> list[Service]:
    """The wanted services (all when empty), dependencies first; unknown names are an error."""
    unknown = [name for name in wanted if name not in services]
    if unknown:
        raise PluginError(f"unknown service(s): {', '.join(unknown)} (installed: {', '.join(sorted(services))})")
    ordered: list[Service] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        service = services[name]
        if service in ordered:
            return
        if name in visiting:
            raise PluginError(f"services depend on each other in a cycle through {name!r}")
        visiting.add(name)
        for dependency in service.requires:
            if dependency in services and dependency in (wanted or services):
                visit(dependency)
        ordered.append(service)

    for name in wanted or sorted(services):
        visit(name)
    return ordered


def hook_manager(hook_plugins: Iterable[object], services: Iterable[Service]) -> pluggy.PluginManager:
    """A pluggy manager with every documented hookspec and every hook implementation registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for service in services:
        manager.register(service, name=f"service:{service.name}")
    for plugin in hook_plugins:
        manager.register(plugin)
    manager.check_pending()
    return manager
