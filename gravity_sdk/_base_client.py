"""Request machinery shared by ``Gravity`` and ``AsyncGravity``: building requests,
retries with backoff, token refresh, error mapping and response decoding."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx2
import msgspec

from ._auth import AsyncTokenRefresher, SyncTokenRefresher, TokensCallback, TokenStore
from ._constants import BASE_URL_ENV, DEFAULT_BASE_URL, USER_AGENT
from ._exceptions import make_status_error
from ._pagination import AsyncCursorPage, AsyncPaginator, SyncCursorPage, decode_page
from ._request import (
    basic_auth_header,
    clean_params,
    connection_error,
    decode_response,
    log_retry,
    refresh_grant_options,
)
from ._retry import NOT_SENT_ERRORS, is_retryable_status, retry_delay
from ._types import NOT_GIVEN, NotGiven, Params, RequestOptions, TimeoutTypes
from .types.auth import TokenResponse, Tokens

__all__ = ["AsyncAPIClient", "BaseClient", "SyncAPIClient"]

T = TypeVar("T")
HttpClientT = TypeVar("HttpClientT", httpx2.Client, httpx2.AsyncClient)


class BaseClient(Generic[HttpClientT]):
    """State and logic common to the synchronous and asynchronous clients."""

    _client: HttpClientT

    def __init__(
        self,
        *,
        base_url: str | httpx2.URL | None,
        access_token: str | None,
        refresh_token: str | None,
        expires_at: datetime | None,
        on_tokens: TokensCallback | None,
        timeout: TimeoutTypes,
        max_retries: int,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        self._base_url = httpx2.URL(str(base_url).rstrip("/"))
        self.timeout: TimeoutTypes = timeout
        self.max_retries = max_retries
        tokens = Tokens(access_token=access_token, refresh_token=refresh_token, expires_at=expires_at)
        self._token_store = TokenStore(tokens, on_tokens)

    @property
    def base_url(self) -> httpx2.URL:
        """The server's root URL; API paths are appended to it."""
        return self._base_url

    @property
    def tokens(self) -> Tokens:
        """The tokens currently held (access token, refresh token, expiry)."""
        return self._token_store.tokens

    @tokens.setter
    def tokens(self, tokens: Tokens) -> None:
        self._token_store.set(tokens)

    def _build_request(self, options: RequestOptions, access_token: str | None) -> httpx2.Request:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if options.basic_auth is not None:
            headers["Authorization"] = basic_auth_header(*options.basic_auth)
        elif access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        content: bytes | None = None
        if options.json is not None:
            content = msgspec.json.encode(options.json)
            headers["Content-Type"] = "application/json"
        return self._client.build_request(
            options.method,
            f"{self._base_url}{options.path}",
            params=clean_params(options.params),
            content=content,
            data=options.form,
            headers=headers,
            timeout=self.timeout if isinstance(options.timeout, NotGiven) else options.timeout,
        )

    def _should_retry_error(self, options: RequestOptions, exc: httpx2.TransportError, retries_taken: int) -> bool:
        if retries_taken >= self.max_retries or isinstance(exc, httpx2.UnsupportedProtocol):
            return False
        return options.is_idempotent or isinstance(exc, NOT_SENT_ERRORS)

    def _should_retry_response(self, options: RequestOptions, response: httpx2.Response, retries_taken: int) -> bool:
        if retries_taken >= self.max_retries or not options.is_idempotent:
            return False
        return is_retryable_status(response.status_code)


def _check_http_layer(http_client: object, transport: object) -> None:
    if http_client is not None and transport is not None:
        raise ValueError("Pass either http_client or transport, not both.")


class SyncAPIClient(BaseClient[httpx2.Client]):
    """Synchronous request machinery over an ``httpx2.Client``."""

    def __init__(
        self,
        *,
        http_client: httpx2.Client | None,
        transport: httpx2.BaseTransport | None,
        **kwargs: Any,
    ) -> None:
        _check_http_layer(http_client, transport)
        super().__init__(**kwargs)
        self._owns_client = http_client is None
        self._client = http_client or httpx2.Client(transport=transport, timeout=self.timeout)
        self._refresher = SyncTokenRefresher(self._token_store, self._refresh_grant)

    def request(
        self,
        cast_to: type[T],
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object = None,
        form: Mapping[str, str] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        authenticated: bool = True,
        basic_auth: tuple[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """Call an API path and decode the JSON answer as ``cast_to`` (``NoneType`` to ignore the body).

        Useful for endpoints the SDK has no method for yet; retries, token refresh and
        error mapping apply as for every other call.
        """
        options = RequestOptions(
            method=method, path=path, params=params, json=json, form=form, timeout=timeout,
            authenticated=authenticated, basic_auth=basic_auth, idempotent=idempotent,
        )  # fmt: skip
        return decode_response(self._send(options), cast_to)

    def get_page(
        self, path: str, model: type[T], *, params: Params, timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    ) -> SyncCursorPage[T]:
        """Fetch one page of a cursor-paginated list; iterating the page fetches the following ones."""
        options = RequestOptions(method="GET", path=path, params=params, timeout=timeout)
        body = decode_page(self._send(options), model)

        def fetch(cursor: str) -> SyncCursorPage[T]:
            return self.get_page(path, model, params={**params, "cursor": cursor}, timeout=timeout)

        return SyncCursorPage(items=body.items, next_cursor=body.next_cursor, fetch=fetch)

    def _send(self, options: RequestOptions) -> httpx2.Response:
        retries_taken = 0
        recovered_401 = False
        while True:
            if options.authenticated:
                self._refresher.ensure_fresh(options.timeout)
            access_token = self._token_store.access_token if options.authenticated else None
            request = self._build_request(options, access_token)
            try:
                response = self._client.send(request)
            except httpx2.TransportError as exc:
                if not self._should_retry_error(options, exc, retries_taken):
                    raise connection_error(request, exc) from exc
                delay = retry_delay(retries_taken)
                log_retry(request, delay, type(exc).__name__)
                self._sleep(delay)
                retries_taken += 1
                continue
            if response.status_code == 401 and options.authenticated and not recovered_401:
                recovered_401 = True
                if self._refresher.recover_from_401(access_token, options.timeout):
                    continue
            if response.is_success:
                return response
            if not self._should_retry_response(options, response, retries_taken):
                raise make_status_error(response)
            delay = retry_delay(retries_taken, response.headers)
            log_retry(request, delay, f"HTTP {response.status_code}")
            self._sleep(delay)
            retries_taken += 1

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _refresh_grant(self, refresh_token: str, timeout: TimeoutTypes | NotGiven) -> TokenResponse:
        return decode_response(self._send(refresh_grant_options(refresh_token, timeout)), TokenResponse)

    @property
    def is_closed(self) -> bool:
        """Whether ``close()`` was called (or the injected HTTP client was closed)."""
        return self._client.is_closed

    def close(self) -> None:
        """Close the underlying HTTP client, unless it was passed in as ``http_client``."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncAPIClient(BaseClient[httpx2.AsyncClient]):
    """Asynchronous request machinery over an ``httpx2.AsyncClient``."""

    def __init__(
        self,
        *,
        http_client: httpx2.AsyncClient | None,
        transport: httpx2.AsyncBaseTransport | None,
        **kwargs: Any,
    ) -> None:
        _check_http_layer(http_client, transport)
        super().__init__(**kwargs)
        self._owns_client = http_client is None
        self._client = http_client or httpx2.AsyncClient(transport=transport, timeout=self.timeout)
        self._refresher = AsyncTokenRefresher(self._token_store, self._refresh_grant)

    async def request(
        self,
        cast_to: type[T],
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object = None,
        form: Mapping[str, str] | None = None,
        timeout: TimeoutTypes | NotGiven = NOT_GIVEN,
        authenticated: bool = True,
        basic_auth: tuple[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """Call an API path and decode the JSON answer as ``cast_to`` (``NoneType`` to ignore the body).

        Useful for endpoints the SDK has no method for yet; retries, token refresh and
        error mapping apply as for every other call.
        """
        options = RequestOptions(
            method=method, path=path, params=params, json=json, form=form, timeout=timeout,
            authenticated=authenticated, basic_auth=basic_auth, idempotent=idempotent,
        )  # fmt: skip
        return decode_response(await self._send(options), cast_to)

    def get_page(
        self, path: str, model: type[T], *, params: Params, timeout: TimeoutTypes | NotGiven = NOT_GIVEN
    ) -> AsyncPaginator[T]:
        """A cursor-paginated list: ``await`` it for the first page, or ``async for`` over every item."""
        return AsyncPaginator(lambda: self._fetch_page(path, model, params, timeout))

    async def _fetch_page(
        self, path: str, model: type[T], params: Params, timeout: TimeoutTypes | NotGiven
    ) -> AsyncCursorPage[T]:
        options = RequestOptions(method="GET", path=path, params=params, timeout=timeout)
        body = decode_page(await self._send(options), model)

        async def fetch(cursor: str) -> AsyncCursorPage[T]:
            return await self._fetch_page(path, model, {**params, "cursor": cursor}, timeout)

        return AsyncCursorPage(items=body.items, next_cursor=body.next_cursor, fetch=fetch)

    async def _send(self, options: RequestOptions) -> httpx2.Response:
        retries_taken = 0
        recovered_401 = False
        while True:
            if options.authenticated:
                await self._refresher.ensure_fresh(options.timeout)
            access_token = self._token_store.access_token if options.authenticated else None
            request = self._build_request(options, access_token)
            try:
                response = await self._client.send(request)
            except httpx2.TransportError as exc:
                if not self._should_retry_error(options, exc, retries_taken):
                    raise connection_error(request, exc) from exc
                delay = retry_delay(retries_taken)
                log_retry(request, delay, type(exc).__name__)
                await self._sleep(delay)
                retries_taken += 1
                continue
            if response.status_code == 401 and options.authenticated and not recovered_401:
                recovered_401 = True
                if await self._refresher.recover_from_401(access_token, options.timeout):
                    continue
            if response.is_success:
                return response
            if not self._should_retry_response(options, response, retries_taken):
                raise make_status_error(response)
            delay = retry_delay(retries_taken, response.headers)
            log_retry(request, delay, f"HTTP {response.status_code}")
            await self._sleep(delay)
            retries_taken += 1

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _refresh_grant(self, refresh_token: str, timeout: TimeoutTypes | NotGiven) -> TokenResponse:
        return decode_response(await self._send(refresh_grant_options(refresh_token, timeout)), TokenResponse)

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose()`` was called (or the injected HTTP client was closed)."""
        return self._client.is_closed

    async def aclose(self) -> None:
        """Close the underlying HTTP client, unless it was passed in as ``http_client``."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
