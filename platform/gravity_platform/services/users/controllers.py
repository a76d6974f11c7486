"""The users API under /api/v1/users."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, put
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.routing import current_principal, encoded_json, service_of
from gravity_platform.services.users.plugin import UsersService
from gravity_platform.services.users.schemas import AdminUpdate, RolesUpdate, SelfUpdate, User, UserPage

ME = "users:me"
AnyRequest = Request[Any, Any, Any]


def _users(request: AnyRequest) -> UsersService:
    return service_of(request, UsersService)


class UsersController(Controller):
    """Profiles: each user their own, admins everyone's."""

    path = "/api/v1/users"
    tags = ["users"]

    @get("/me", opt={"permission": ME})
    async def get_me(self, request: AnyRequest) -> Response[User]:
        """The caller's profile."""
        return encoded_json(await _users(request).logic.get_encoded(current_principal(request).subject), User)

    @patch("/me", opt={"permission": ME})
    async def update_me(self, request: AnyRequest, data: JSONBody[SelfUpdate]) -> User:
        """Change the caller's own profile; fields such as `roles` or `is_active` are ignored."""
        principal = current_principal(request)
        return await _users(request).logic.update(
            principal.subject,
            SelfUpdate(display_name=data.display_name, metadata=data.metadata),
            actor=principal.subject,
        )

    @get("/", opt={"permission": "users:read"})
    async def list_users(
        self,
        request: AnyRequest,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> UserPage:
        """Every user, oldest first, searchable by email or name; follow `next_cursor` for more."""
        return await _users(request).logic.list(q, cursor, limit)

    @get("/{user_id:uuid}", opt={"permission": "users:read"})
    async def get_user(self, request: AnyRequest, user_id: FromPath[UUID]) -> Response[User]:
        """One user."""
        return encoded_json(await _users(request).logic.get_encoded(str(user_id)), User)

    @patch("/{user_id:uuid}", opt={"permission": "users:write"})
    async def update_user(self, request: AnyRequest, user_id: FromPath[UUID], data: JSONBody[AdminUpdate]) -> User:
        """Change any user, including roles and activation (deactivating ends their sessions)."""
        return await _users(request).logic.update(str(user_id), data, actor=current_principal(request).subject)

    @put("/{user_id:uuid}/roles", opt={"permission": "users:roles"})
    async def set_roles(self, request: AnyRequest, user_id: FromPath[UUID], data: JSONBody[RolesUpdate]) -> User:
        """Replace a user's roles."""
        return await _users(request).logic.update(str(user_id), AdminUpdate(roles=data.roles),
                                                  actor=current_principal(request).subject)

    @delete("/{user_id:uuid}", opt={"permission": "users:delete"}, status_code=204)
    async def delete_user(self, request: AnyRequest, user_id: FromPath[UUID]) -> None:
        """Erase a user and their account."""
        await _users(request).logic.delete(str(user_id), actor=current_principal(request).subject)
