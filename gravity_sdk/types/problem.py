"""RFC 9457 problem details, the body of every Gravity error response."""

from __future__ import annotations

from typing import Any

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An RFC 9457 ``application/problem+json`` error body.

    ``type`` is a URI or ``urn:gravity:error:<code>``; ``errors`` lists field-level
    validation failures when the server reports them.
    """

    type: str = "about:blank"
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[Any] | None = None

    @property
    def code(self) -> str | None:
        """The stable Gravity error code, e.g. ``"quota-exceeded"``, if ``type`` is a Gravity URN."""
        prefix = "urn:gravity:error:"
        return self.type[len(prefix) :] if self.type.startswith(prefix) else None
