"""Stored files."""

from __future__ import annotations

from datetime import datetime

import msgspec


class File(msgspec.Struct, frozen=True, kw_only=True):
    """A stored file's metadata; ``sha256`` (hex) is also the ETag of its bytes."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    owner_id: str
    public: bool = False
    shared_with_users: list[str] = msgspec.field(default_factory=list)
    shared_with_roles: list[str] = msgspec.field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class SignedUrl(msgspec.Struct, frozen=True, kw_only=True):
    """A URL anyone may download the file from, without a token, until ``expires_at``."""

    url: str
    expires_at: datetime
