"""The clients: ``Gravity`` (synchronous) and ``AsyncGravity``."""

from __future__ import annotations

from datetime import datetime

import httpx2

from ._auth import TokensCallback
from ._base_client import AsyncAPIClient, SyncAPIClient
from ._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._types import TimeoutTypes
from .resources.auth import AsyncAuth, Auth
from .resources.email import AsyncEmails, Emails
from .resources.files import AsyncFiles, Files
from .resources.notifications import AsyncNotifications, Notifications
from .resources.realtime import AsyncRealtime, Realtime
from .resources.sms import AsyncSms, Sms
from .resources.users import AsyncUsers, Users

__all__ = ["AsyncGravity", "Gravity"]


class Gravity(SyncAPIClient):
    """Synchronous client for a Gravity server.

    ``base_url`` defaults to ``$GRAVITY_BASE_URL``, else ``http://127.0.0.1:8080``. Pass
    tokens saved earlier to resume a session; ``on_tokens`` is called with the new
    ``Tokens`` after every sign-in, refresh and sign-out so an app can persist them (it may
    run while the refresh lock is held: keep it quick and do not call the client from it).
    Idempotent calls are retried up to ``max_retries`` times on 408/429/5xx and on
    connection errors. ``http_client`` (left open by ``close()``) or ``transport``
    replace the HTTP layer, e.g. with ``httpx2.MockTransport`` in tests.

    Use it as a context manager, or call ``close()``, to release connections.
    """

    auth: Auth
    users: Users
    files: Files
    email: Emails
    notifications: Notifications
    realtime: Realtime
    sms: Sms

    def __init__(
        self,
        *,
        base_url: str | httpx2.URL | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
        on_tokens: TokensCallback | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx2.Client | None = None,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            on_tokens=on_tokens,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            transport=transport,
        )
        self.auth = Auth(self)
        self.users = Users(self)
        self.files = Files(self)
        self.email = Emails(self)
        self.notifications = Notifications(self)
        self.realtime = Realtime(self)
        self.sms = Sms(self)


class AsyncGravity(AsyncAPIClient):
    """Asynchronous client for a Gravity server; the same options as ``Gravity``.

    Use it with ``async with``, or call ``aclose()``, to release connections.
    """

    auth: AsyncAuth
    users: AsyncUsers
    files: AsyncFiles
    email: AsyncEmails
    notifications: AsyncNotifications
    realtime: AsyncRealtime
    sms: AsyncSms

    def __init__(
        self,
        *,
        base_url: str | httpx2.URL | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
        on_tokens: TokensCallback | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            on_tokens=on_tokens,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            transport=transport,
        )
        self.auth = AsyncAuth(self)
        self.users = AsyncUsers(self)
        self.files = AsyncFiles(self)
        self.email = AsyncEmails(self)
        self.notifications = AsyncNotifications(self)
        self.realtime = AsyncRealtime(self)
        self.sms = AsyncSms(self)
