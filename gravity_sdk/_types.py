"""Small shared types: the ``NOT_GIVEN`` sentinel and request options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import httpx2

from ._constants import IDEMPOTENT_METHODS

TimeoutTypes: TypeAlias = float | httpx2.Timeout | None
"""A per-call timeout: seconds, an ``httpx2.Timeout``, or ``None`` for no timeout."""


class NotGiven:
    """Marks an argument the caller left out, which is not the same as passing ``None``.

    ``client.users.update_me(display_name=None)`` clears the display name, while leaving
    ``display_name`` out keeps it unchanged.
    """

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()

Params: TypeAlias = Mapping[str, Any]
"""Query parameters; ``None`` and ``NOT_GIVEN`` values are left out."""


@dataclass(frozen=True, kw_only=True)
class RequestOptions:
    """Everything needed to send one API call, possibly several times."""

    method: str
    path: str
    params: Params | None = None
    json: object = None
    form: Mapping[str, str] | None = None
    timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    authenticated: bool = True
    basic_auth: tuple[str, str] | None = None
    idempotent: bool | None = None

    @property
    def is_idempotent(self) -> bool:
        """Whether sending this request twice has the same effect as sending it once."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in IDEMPOTENT_METHODS


def strip_not_given(values: Mapping[str, object]) -> dict[str, object]:
    """Drop the entries the caller left out."""
    return {key: value for key, value in values.items() if not isinstance(value, NotGiven)}
