"""Wire models of the files service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Role = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,63}$(?!\n)")]
UserId = Annotated[str, msgspec.Meta(
    pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$(?!\n)")]


class FileInfo(msgspec.Struct):
    """A stored file's metadata. `sha256` (hex) is also its ETag."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    owner_id: str
    public: bool
    shared_with_users: list[str]
    shared_with_roles: list[str]
    created_at: datetime
    updated_at: datetime


class FilePage(msgspec.Struct):
    """One page of files and the cursor of the next."""

    items: list[FileInfo]
    next_cursor: str | None = None


class SharingUpdate(msgspec.Struct):
    """Who may read a file besides its owner; fields left out stay as they are."""

    public: bool | msgspec.UnsetType = msgspec.UNSET
    users: Annotated[list[UserId], msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    roles: Annotated[list[Role], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET


class SignedUrlRequest(msgspec.Struct):
    """How long the URL should work, in seconds (default and maximum are settings)."""

    expires_in: Annotated[int, msgspec.Meta(ge=1)] | None = None


class SignedUrl(msgspec.Struct):
    """A URL anyone may GET the file's bytes from until `expires_at`."""

    url: str
    expires_at: datetime
