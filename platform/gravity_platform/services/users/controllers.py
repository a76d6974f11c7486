"""The users API under /api/v1/users."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, put
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.routing import CurrentPrincipal
from gravity_platform.services.users.plugin import Users
from gravity_platform.services.users.schemas import AdminUpdate, RolesUpdate, SelfUpdate, User, UserPage

ME = "users:me"


class UsersController(Controller):
    """Profiles: each user their own, admins everyone's."""

    path = "/api/v1/users"
    tags = ["users"]

    @get("/me", opt={"permission": ME})
    async def get_me(self, principal: CurrentPrincipal, users: Users) -> User:
        """The caller's profile."""
        return await users.logic.get(principal.subject)

    @patch("/me", opt={"permission": ME})
    async def update_me(self, data: JSONBody[SelfUpdate], principal: CurrentPrincipal, users: Users) -> User:
        """Change the caller's own profile; fields such as `roles` or `is_active` are ignored."""
        return await users.logic.update(
            principal.subject,
            SelfUpdate(display_name=data.display_name, metadata=data.metadata),
            actor=principal.subject,
        )

    @get("/", opt={"permission": "users:read"})
    async def list_users(
        self,
        users: Users,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> UserPage:
        """Every user, oldest first, searchable by email or name; follow `next_cursor` for more."""
        return await users.logic.list(q, cursor, limit)

    @get("/{user_id:uuid}", opt={"permission": "users:read"})
    async def get_user(self, user_id: FromPath[UUID], users: Users) -> User:
        """One user."""
        return await users.logic.get(str(user_id))

    @patch("/{user_id:uuid}", opt={"permission": "users:write"})
    async def update_user(
        self, user_id: FromPath[UUID], data: JSONBody[AdminUpdate], principal: CurrentPrincipal, users: Users
    ) -> User:
        """Change any user, including roles and activation (deactivating ends their sessions)."""
        return await users.logic.update(str(user_id), data, actor=principal.subject)

    @put("/{user_id:uuid}/roles", opt={"permission": "users:roles"})
    async def set_roles(
        self, user_id: FromPath[UUID], data: JSONBody[RolesUpdate], principal: CurrentPrincipal, users: Users
    ) -> User:
        """Replace a user's roles."""
        return await users.logic.update(str(user_id), AdminUpdate(roles=data.roles), actor=principal.subject)

    @delete("/{user_id:uuid}", opt={"permission": "users:delete"}, status_code=204)
    async def delete_user(self, user_id: FromPath[UUID], principal: CurrentPrincipal, users: Users) -> None:
        """Erase a user and their account."""
        await users.logic.delete(str(user_id), actor=principal.subject)
