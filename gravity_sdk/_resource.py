"""The base class of every resource (``client.users``, ``client.auth`` ...)."""

from __future__ import annotations

from typing import Generic, TypeVar
from urllib.parse import quote

from ._base_client import AsyncAPIClient, SyncAPIClient

ClientT = TypeVar("ClientT", SyncAPIClient, AsyncAPIClient)


class APIResource(Generic[ClientT]):
    """Holds the client a resource sends its requests through."""

    def __init__(self, client: ClientT) -> None:
        self._client: ClientT = client


def path_id(value: str) -> str:
    """Quote an ID for use as one path segment."""
    return quote(str(value), safe="")
