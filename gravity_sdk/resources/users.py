"""``client.users``: profiles, admin listing and role management."""

from __future__ import annotations

import builtins
from types import NoneType
from typing import Any

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._pagination import AsyncPaginator, SyncCursorPage
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.user import User

__all__ = ["AsyncUsers", "Users"]

_ME = "/api/v1/users/me"
_USERS = "/api/v1/users"


class _UsersBase(APIResource[ClientT]):
    @staticmethod
    def _user_path(user_id: str) -> str:
        return f"{_USERS}/{path_id(user_id)}"

    @staticmethod
    def _list_params(q: str | NotGiven, limit: int | NotGiven, cursor: str | NotGiven) -> dict[str, Any]:
        return strip_not_given({"q": q, "limit": limit, "cursor": cursor})


class Users(_UsersBase[SyncAPIClient]):
    """User profiles; listing, updating and deleting other users needs an admin role."""

    def me(self, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> User:
        """The signed-in user."""
        return self._client.request(User, "GET", _ME, timeout=timeout)

    def update_me(
        self,
        *,
        display_name: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, Any] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> User:
        """Change the signed-in user's profile; fields left out stay as they are."""
        body = strip_not_given({"display_name": display_name, "metadata": metadata})
        return self._client.request(User, "PATCH", _ME, json=body, timeout=timeout)

    def list(
        self,
        *,
        q: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> SyncCursorPage[User]:
        """Search users (admin). ``limit`` is the page size; iterate the result for every match."""
        params = self._list_params(q, limit, cursor)
        return self._client.get_page(_USERS, User, params=params, timeout=timeout)

    def get(self, user_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> User:
        """One user by ID."""
        return self._client.request(User, "GET", self._user_path(user_id), timeout=timeout)

    def update(
        self,
        user_id: str,
        *,
        display_name: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, Any] | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        roles: builtins.list[str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> User:
        """Change a user (admin); ``is_active=False`` deactivates the account."""
        body = strip_not_given(
            {"display_name": display_name, "metadata": metadata, "is_active": is_active, "roles": roles}
        )
        return self._client.request(User, "PATCH", self._user_path(user_id), json=body, timeout=timeout)

    def delete(self, user_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Delete a user (admin)."""
        self._client.request(NoneType, "DELETE", self._user_path(user_id), timeout=timeout)

    def set_roles(
        self, user_id: str, *, roles: builtins.list[str], timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    ) -> User:
        """Replace a user's roles (admin)."""
        path = f"{self._user_path(user_id)}/roles"
        return self._client.request(User, "PUT", path, json={"roles": roles}, timeout=timeout)


class AsyncUsers(_UsersBase[AsyncAPIClient]):
    """User profiles; listing, updating and deleting other users needs an admin role."""

    async def me(self, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> User:
        """The signed-in user."""
        return await self._client.request(User, "GET", _ME, timeout=timeout)

    async def update_me(
        self,
        *,
        display_name: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, Any] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> User:
        """Change the signed-in user's profile; fields left out stay as they are."""
        body = strip_not_given({"display_name": display_name, "metadata": metadata})
        return await self._client.request(User, "PATCH", _ME, json=body, timeout=timeout)

    def list(
        self,
        *,
        q: str | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> AsyncPaginator[User]:
        """Search users (admin). ``limit`` is the page size; ``async for`` over the result for every match."""
        params = self._list_params(q, limit, cursor)
        return self._client.get_page(_USERS, User, params=params, timeout=timeout)

    async def get(self, user_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> User:
        """One user by ID."""
        return await self._client.request(User, "GET", self._user_path(user_id), timeout=timeout)

    async def update(
        self,
        user_id: str,
        *,
        display_name: str | NotGiven | None = NOT_GIVEN,
        metadata: dict[str, Any] | NotGiven = NOT_GIVEN,
        is_active: bool | NotGiven = NOT_GIVEN,
        roles: builtins.list[str] | NotGiven = NOT_GIVEN,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
    ) -> User:
        """Change a user (admin); ``is_active=False`` deactivates the account."""
        body = strip_not_given(
            {"display_name": display_name, "metadata": metadata, "is_active": is_active, "roles": roles}
        )
        return await self._client.request(User, "PATCH", self._user_path(user_id), json=body, timeout=timeout)

    async def delete(self, user_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Delete a user (admin)."""
        await self._client.request(NoneType, "DELETE", self._user_path(user_id), timeout=timeout)

    async def set_roles(
        self, user_id: str, *, roles: builtins.list[str], timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    ) -> User:
        """Replace a user's roles (admin)."""
        path = f"{self._user_path(user_id)}/roles"
        return await self._client.request(User, "PUT", path, json={"roles": roles}, timeout=timeout)
