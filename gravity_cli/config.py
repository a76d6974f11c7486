"""The platform settings as operator commands see them.

``GravitySettings`` reads defaults < ``gravity.toml`` (``$GRAVITY_CONFIG``) < ``GRAVITY_*``. In a project
whose dev stack is running (``gravity dev up``), whatever is still at its default (the database, NATS and
Valkey URLs, the public URL) points at that stack instead, so ``gravity status``, ``gravity migrate`` and
``gravity users create-admin`` work there without configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from gravity_cli.devproject import DevProject

if TYPE_CHECKING:
    from gravity_platform.kernel.settings import GravitySettings


def load_settings() -> GravitySettings:
    """The settings of this installation, completed from a running dev stack where left at defaults."""
    from gravity_platform.kernel.settings import GravitySettings

    return with_dev_stack(GravitySettings())


def with_dev_stack(settings: GravitySettings) -> GravitySettings:
    """``settings`` with the endpoints of the dev stack running in ``settings.project_dir`` filled in."""
    from gravity_platform.kernel.settings import DatabaseSettings, GravitySettings, NatsSettings, ValkeySettings

    project = DevProject.at(settings.project_dir)
    state = project.state()
    if state is None or state.endpoints is None:
        return settings
    endpoints = state.endpoints
    update: dict[str, object] = {}
    if settings.database.url == DatabaseSettings().url:
        update["database"] = settings.database.model_copy(update={"url": endpoints.postgres_dsn})
    if settings.nats.url == NatsSettings().url:
        update["nats"] = settings.nats.model_copy(update={"url": endpoints.nats_url})
    if settings.valkey.url == ValkeySettings().url:
        update["valkey"] = settings.valkey.model_copy(update={"url": endpoints.valkey_url})
    if settings.public_url == GravitySettings.model_fields["public_url"].default:
        update["public_url"] = project.load_config().url
    return settings.model_copy(update=update)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for output)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
