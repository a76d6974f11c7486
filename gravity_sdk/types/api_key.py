"""API keys: OAuth2 client credentials owned by a user."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """An API key as listed; the secret is never shown again after creation."""

    id: str
    name: str
    scopes: list[str] = msgspec.field(default_factory=list)
    client_id: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(msgspec.Struct, frozen=True, kw_only=True):
    """A newly created API key, including its ``client_secret`` (shown only this once)."""

    id: str
    name: str
    scopes: list[str] = msgspec.field(default_factory=list)
    client_id: str
    client_secret: str
    created_at: datetime
    expires_at: datetime | None = None
