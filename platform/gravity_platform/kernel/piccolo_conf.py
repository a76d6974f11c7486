"""Piccolo's configuration module (`PICCOLO_CONF=gravity_platform.kernel.piccolo_conf`).

`DB` is pointed at one service's engine while that service's migrations run; `APP_REGISTRY`
lists every installed service's Piccolo app, so `piccolo migrations new <service> --auto` works."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry

from gravity_platform.kernel.db import Engine

DB: Engine = Engine(config={})

APP_REGISTRY = AppRegistry(apps=[])


def _register_apps() -> None:
    from gravity_platform.kernel.plugins import discover_services

    for service in discover_services().values():
        app = service.piccolo_app()
        if app is not None:
            APP_REGISTRY.app_configs.setdefault(app.app_name, app)


_register_apps()
