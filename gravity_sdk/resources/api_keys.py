"""``client.auth.api_keys``: OAuth2 client credentials for programs acting as the user."""

from __future__ import annotations

import builtins
from types import NoneType

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._pagination import AsyncPaginator, SyncCursorPage
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.api_key import ApiKey, ApiKeyCreated

__all__ = ["ApiKeys", "AsyncApiKeys"]

_API_KEYS = "/api/v1/auth/api-keys"


class _ApiKeysBase(APIResource[ClientT]):
    @staticmethod
    def _create_body(name: str, scopes: builtins.list[str], expires_in: int | NotGiven) -> dict[str, object]:
        return strip_not_given({"name": name, "scopes": scopes, "expires_in": expires_in})

    @staticmethod
    def _key_path(key_id: str) -> str:
        return f"{_API_KEYS}/{path_id(key_id)}"


class ApiKeys(_ApiKeysBase[SyncAPIClient]):
    """The signed-in user's API keys; use one with ``client.auth.login_with_client_credentials()``."""

    def create(
        self,
        *,
        name: str,
        scopes: builtins.list[str],
        expires_in: int | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> ApiKeyCreated:
        """Create a key; ``expires_in`` is in seconds. Store ``client_secret`` now: it is never shown again."""
        body = self._create_body(name, scopes, expires_in)
        return self._client.request(ApiKeyCreated, "POST", _API_KEYS, json=body, timeout=timeout)

    def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> SyncCursorPage[ApiKey]:
        """The user's keys, without secrets; iterate the result for all of them."""
        params = strip_not_given({"limit": limit, "cursor": cursor})
        return self._client.get_page(_API_KEYS, ApiKey, params=params, timeout=timeout)

    def revoke(self, key_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Revoke a key; tokens issued for it stop working."""
        self._client.request(NoneType, "DELETE", self._key_path(key_id), timeout=timeout)


class AsyncApiKeys(_ApiKeysBase[AsyncAPIClient]):
    """The signed-in user's API keys; use one with ``client.auth.login_with_client_credentials()``."""

    async def create(
        self,
        *,
        name: str,
        scopes: builtins.list[str],
        expires_in: int | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> ApiKeyCreated:
        """Create a key; ``expires_in`` is in seconds. Store ``client_secret`` now: it is never shown again."""
        body = self._create_body(name, scopes, expires_in)
        return await self._client.request(ApiKeyCreated, "POST", _API_KEYS, json=body, timeout=timeout)

    def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> AsyncPaginator[ApiKey]:
        """The user's keys, without secrets; ``async for`` over the result for all of them."""
        params = strip_not_given({"limit": limit, "cursor": cursor})
        return self._client.get_page(_API_KEYS, ApiKey, params=params, timeout=timeout)

    async def revoke(self, key_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Revoke a key; tokens issued for it stop working."""
        await self._client.request(NoneType, "DELETE", self._key_path(key_id), timeout=timeout)
