"""User accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user account as the users and auth services return it."""

    id: str
    email: str
    display_name: str | None = None
    roles: list[str] = msgspec.field(default_factory=list)
    is_active: bool = True
    email_verified: bool = False
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class UserInfo(msgspec.Struct, frozen=True, kw_only=True):
    """OpenID Connect userinfo claims of the signed-in user."""

    sub: str
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
