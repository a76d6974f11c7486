"""Token storage and single-flight refresh.

A client holds one ``TokenStore``. Its refresher makes sure at most one refresh runs at
a time: callers that find the token already replaced by another caller's refresh use the
new token instead of refreshing again (refresh tokens are single use).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ._constants import REFRESH_LEEWAY
from ._exceptions import APIError, APIStatusError, GravityError
from ._types import NOT_GIVEN, NotGiven, TimeoutTypes
from .types.auth import TokenResponse, Tokens

TokensCallback = Callable[[Tokens], None]
CallTimeout = TimeoutTypes | NotGiven

_DEAD_REFRESH_STATUSES = frozenset({400, 401})


class TokenStore:
    """The tokens of one client; ``on_tokens`` is called after every change."""

    def __init__(self, tokens: Tokens, on_tokens: TokensCallback | None = None) -> None:
        self._tokens = tokens
        self._on_tokens = on_tokens

    @property
    def tokens(self) -> Tokens:
        return self._tokens

    @property
    def access_token(self) -> str | None:
        return self._tokens.access_token

    @property
    def refresh_token(self) -> str | None:
        return self._tokens.refresh_token

    def set(self, tokens: Tokens) -> None:
        self._tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)

    def save_response(self, response: TokenResponse, *, keep_refresh_token: bool = False) -> Tokens:
        """Store the tokens of a token endpoint answer and return them."""
        refresh = response.refresh_token
        if refresh is None and keep_refresh_token:
            refresh = self._tokens.refresh_token
        expires_at = None
        if response.expires_in is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=response.expires_in)
        tokens = Tokens(
            access_token=response.access_token,
            refresh_token=refresh,
            expires_at=expires_at,
            scope=response.scope if response.scope is not None else self._tokens.scope,
        )
        self.set(tokens)
        return tokens

    def clear(self) -> None:
        self.set(Tokens())

    def drop_refresh_token(self) -> None:
        tokens = self._tokens
        self.set(Tokens(access_token=tokens.access_token, expires_at=tokens.expires_at, scope=tokens.scope))

    def needs_refresh(self) -> bool:
        """A refresh token is held and the access token is missing or expires within the leeway."""
        tokens = self._tokens
        if tokens.refresh_token is None:
            return False
        if tokens.access_token is None:
            return True
        if tokens.expires_at is None:
            return False
        return tokens.expires_at - datetime.now(UTC) < timedelta(seconds=REFRESH_LEEWAY)

    def replaced(self, used_access_token: str | None) -> bool:
        """Another caller stored a different access token since ``used_access_token`` was sent."""
        current = self._tokens.access_token
        return current is not None and current != used_access_token


class SyncTokenRefresher:
    """Refreshes a ``TokenStore`` through ``grant`` under a ``threading.Lock``."""

    def __init__(self, store: TokenStore, grant: Callable[[str, CallTimeout], TokenResponse]) -> None:
        self._store = store
        self._grant = grant
        self._lock = threading.Lock()

    def refresh(self, request_timeout: CallTimeout = NOT_GIVEN) -> TokenResponse:
        """Exchange the stored refresh token for new tokens; raise if that fails."""
        with self._lock:
            return self._refresh_locked(request_timeout)

    def ensure_fresh(self, request_timeout: CallTimeout = NOT_GIVEN) -> None:
        """Refresh ahead of a request if the access token is about to expire (best effort)."""
        if not self._store.needs_refresh():
            return
        with self._lock:
            if not self._store.needs_refresh():
                return
            try:
                self._refresh_locked(request_timeout)
            except APIError:
                return

    def recover_from_401(self, used_access_token: str | None, request_timeout: CallTimeout = NOT_GIVEN) -> bool:
        """After a 401, get a newer access token; ``True`` if the request should be sent again."""
        with self._lock:
            if self._store.replaced(used_access_token):
                return True
            if self._store.refresh_token is None:
                return False
            try:
                self._refresh_locked(request_timeout)
            except APIStatusError:
                return False
            return True

    def _refresh_locked(self, request_timeout: CallTimeout) -> TokenResponse:
        refresh_token = _require_refresh_token(self._store)
        try:
            response = self._grant(refresh_token, request_timeout)
        except APIStatusError as exc:
            _forget_dead_refresh_token(self._store, refresh_token, exc)
            raise
        self._store.save_response(response, keep_refresh_token=True)
        return response


class AsyncTokenRefresher:
    """Refreshes a ``TokenStore`` through ``grant`` under an ``asyncio.Lock``."""

    def __init__(self, store: TokenStore, grant: Callable[[str, CallTimeout], Awaitable[TokenResponse]]) -> None:
        self._store = store
        self._grant = grant
        self._lock = asyncio.Lock()

    async def refresh(self, request_timeout: CallTimeout = NOT_GIVEN) -> TokenResponse:
        """Exchange the stored refresh token for new tokens; raise if that fails."""
        async with self._lock:
            return await self._refresh_locked(request_timeout)

    async def ensure_fresh(self, request_timeout: CallTimeout = NOT_GIVEN) -> None:
        """Refresh ahead of a request if the access token is about to expire (best effort)."""
        if not self._store.needs_refresh():
            return
        async with self._lock:
            if not self._store.needs_refresh():
                return
            try:
                await self._refresh_locked(request_timeout)
            except APIError:
                return

    async def recover_from_401(self, used_access_token: str | None, request_timeout: CallTimeout = NOT_GIVEN) -> bool:
        """After a 401, get a newer access token; ``True`` if the request should be sent again."""
        async with self._lock:
            if self._store.replaced(used_access_token):
                return True
            if self._store.refresh_token is None:
                return False
            try:
                await self._refresh_locked(request_timeout)
            except APIStatusError:
                return False
            return True

    async def _refresh_locked(self, request_timeout: CallTimeout) -> TokenResponse:
        refresh_token = _require_refresh_token(self._store)
        try:
            response = await self._grant(refresh_token, request_timeout)
        except APIStatusError as exc:
            _forget_dead_refresh_token(self._store, refresh_token, exc)
            raise
        self._store.save_response(response, keep_refresh_token=True)
        return response


def _require_refresh_token(store: TokenStore) -> str:
    refresh_token = store.refresh_token
    if refresh_token is None:
        raise GravityError("No refresh token is held; sign in first.")
    return refresh_token


def _forget_dead_refresh_token(store: TokenStore, refresh_token: str, exc: APIStatusError) -> None:
    if exc.status_code in _DEAD_REFRESH_STATUSES and store.refresh_token == refresh_token:
        store.drop_refresh_token()
