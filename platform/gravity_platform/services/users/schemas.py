"""Wire models of the users service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

Role = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,63}$(?!\n)")]
DisplayName = Annotated[str, msgspec.Meta(max_length=200)]


class User(msgspec.Struct):
    """A user as the API shows it."""

    id: str
    email: str
    display_name: str | None
    roles: list[str]
    is_active: bool
    email_verified: bool
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = {}


class UserPage(msgspec.Struct):
    """One page of users and the cursor of the next."""

    items: list[User]
    next_cursor: str | None = None


class SelfUpdate(msgspec.Struct):
    """What a user may change about themselves (anything else sent is ignored)."""

    display_name: DisplayName | msgspec.UnsetType | None = msgspec.UNSET
    metadata: Annotated[dict[str, Any], msgspec.Meta(max_length=50)] | msgspec.UnsetType = msgspec.UNSET


class AdminUpdate(SelfUpdate):
    """What an admin may change about any user."""

    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    roles: Annotated[list[Role], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET


class RolesUpdate(msgspec.Struct):
    """The complete set of roles a user should hold."""

    roles: Annotated[list[Role], msgspec.Meta(max_length=20)]
