"""Access-token verification (RFC 8725 / RFC 9068), the locally cached JWKS, principals and RBAC."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWK

from gravity_platform.kernel.errors import ForbiddenError, UnauthorizedError

log = logging.getLogger("gravity.security")

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256"})

DEFAULT_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "user": frozenset({"users:me", "auth:self"}),
}
"""Built-in roles. Permissions are `service:action`; `*` and `service:*` are wildcards."""

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a verified access token."""

    subject: str
    session_id: str | None
    token_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    expires_at: int
    issued_at: int
    client_id: str | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        """True when the principal holds every permission."""
        return "*" in self.permissions

    def can(self, permission: str) -> bool:
        """Whether this principal holds `permission` (wildcards honoured)."""
        return permission_granted(self.permissions, permission)


def permission_granted(granted: Iterable[str], permission: str) -> bool:
    """Whether the set `granted` covers `permission`."""
    service = permission.split(":", 1)[0]
    return any(p in ("*", permission, f"{service}:*") for p in granted)


def resolve_permissions(roles: Iterable[str], scopes: Iterable[str] | None,
                        role_permissions: dict[str, frozenset[str]] = DEFAULT_ROLE_PERMISSIONS) -> frozenset[str]:
    """The permissions of some roles, narrowed to `scopes` when the token was scoped."""
    granted: set[str] = set()
    for role in roles:
        granted |= role_permissions.get(role, frozenset())
    if scopes is None:
        return frozenset(granted)
    return frozenset(s for s in scopes if permission_granted(granted, s))


class JwksCache:
    """The auth service's public keys, held locally and refreshed on rotation, on an unknown `kid`
    (at most once per `min_refresh`), and every `max_age` seconds so retired keys drop out."""

    def __init__(self, fetch: JwksFetcher, *, max_age: float = 60.0, min_refresh: float = 5.0) -> None:
        self._fetch = fetch
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        """Fetch the key set again (shared by concurrent callers)."""
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self._min_refresh:
                return
            document = await self._fetch()
            keys: dict[str, PyJWK] = {}
            for jwk in document.get("keys", []):
                if jwk.get("use", "sig") == "sig" and jwk.get("kid") and jwk.get("alg") in ALLOWED_ALGORITHMS:
                    keys[jwk["kid"]] = PyJWK.from_dict(jwk)
            self._keys = keys
            self._fetched_at = time.monotonic()

    def invalidate(self) -> None:
        """Forget the fetch time, so the next lookup fetches again (after a rotation broadcast)."""
        self._fetched_at = 0.0

    async def get(self, kid: str) -> PyJWK | None:
        """The key for `kid`, refreshing the set when it is stale or the kid is unknown."""
        if time.monotonic() - self._fetched_at > self._max_age:
            await self.refresh(force=True)
        if kid not in self._keys:
            await self.refresh()
        return self._keys.get(kid)


class TokenVerifier:
    """Verifies access tokens: only the configured algorithm, explicit `typ`, known `kid`,
    exact `iss` and `aud`, and every registered claim present. Verified tokens are cached until expiry."""

    def __init__(self, jwks: JwksCache, *, issuer: str, audience: str, algorithm: str = "EdDSA",
                 role_permissions: dict[str, frozenset[str]] = DEFAULT_ROLE_PERMISSIONS,
                 cache_size: int = 10_000) -> None:
        if algorithm not in ALLOWED_ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.algorithm = algorithm
        self._role_permissions = role_permissions
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid access token or raise UnauthorizedError."""
        cached = self._cache.get(token)
        now = int(time.time())
        if cached is not None and cached.expires_at > now:
            self._cache.move_to_end(token)
            return cached
        principal = await self._verify_uncached(token)
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def forget(self) -> None:
        """Drop every cached verification (after a key rotation)."""
        self._cache.clear()

    async def _verify_uncached(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthorizedError("The access token is malformed") from None
        if header.get("alg") != self.algorithm:
            raise UnauthorizedError("The access token is signed with an algorithm this server does not accept")
        if header.get("typ", "").lower() not in (ACCESS_TOKEN_TYP, f"application/{ACCESS_TOKEN_TYP}"):
            raise UnauthorizedError("The token is not an access token")
        kid = header.get("kid")
        key = await self.jwks.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise UnauthorizedError("The access token is signed with an unknown key")
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[self.algorithm], audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}, leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("The access token has expired") from None
        except jwt.PyJWTError as error:
            raise UnauthorizedError(f"The access token is not valid: {error}") from None
        return self.principal_from_claims(claims)

    def principal_from_claims(self, claims: dict[str, Any]) -> Principal:
        """Build the principal a set of verified claims describes."""
        roles = frozenset(claims.get("roles", []))
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else None
        return Principal(
            subject=str(claims["sub"]), session_id=claims.get("sid"), token_id=str(claims["jti"]), roles=roles,
            scopes=scopes or frozenset(), expires_at=int(claims["exp"]), issued_at=int(claims["iat"]),
            client_id=claims.get("client_id"),
            permissions=resolve_permissions(roles, scopes, self._role_permissions),
        )


def require_permission(principal: Principal | None, permission: str) -> Principal:
    """Raise 401 without a principal and 403 without the permission."""
    if principal is None:
        raise UnauthorizedError()
    if not principal.can(permission):
        raise ForbiddenError(f"This needs the {permission!r} permission")
    return principal
