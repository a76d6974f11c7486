"""Cursor pages that fetch the following pages only when iteration reaches them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

import httpx2
import msgspec

from ._exceptions import APIResponseValidationError, GravityError

__all__ = ["AsyncCursorPage", "AsyncPaginator", "SyncCursorPage"]

T = TypeVar("T")


class PageBody(msgspec.Struct, Generic[T]):
    """The wire form of a page: ``{"items": [...], "next_cursor": "..." | null}``."""

    items: list[T]
    next_cursor: str | None = None


def decode_page(response: httpx2.Response, model: type[T]) -> PageBody[T]:
    """Decode a page body whose items are ``model``."""
    page_type: Any = PageBody[model]  # type: ignore[valid-type]
    try:
        body: PageBody[T] = msgspec.json.decode(response.content, type=page_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise APIResponseValidationError(response, str(exc)) from exc
    return body


class SyncCursorPage(Generic[T]):
    """One page of results. Iterating it yields every item of this page and all following ones,
    fetching each next page only when the previous one is used up."""

    items: list[T]
    next_cursor: str | None

    def __init__(self, *, items: list[T], next_cursor: str | None, fetch: Callable[[str], SyncCursorPage[T]]) -> None:
        self.items = items
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        """Whether the server reported a following page."""
        return bool(self.next_cursor)

    def get_next_page(self) -> SyncCursorPage[T]:
        """Fetch the following page."""
        if not self.next_cursor:
            raise GravityError("This is the last page.")
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncCursorPage[T]]:
        """Yield this page, then each following page as it is fetched."""
        page = self
        yield page
        while page.has_next_page():
            page = page.get_next_page()
            yield page

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.items

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncCursorPage(Generic[T]):
    """One page of results. ``async for`` over it yields every item of this page and all following
    ones, fetching each next page only when the previous one is used up."""

    items: list[T]
    next_cursor: str | None

    def __init__(
        self, *, items: list[T], next_cursor: str | None, fetch: Callable[[str], Awaitable[AsyncCursorPage[T]]]
    ) -> None:
        self.items = items
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        """Whether the server reported a following page."""
        return bool(self.next_cursor)

    async def get_next_page(self) -> AsyncCursorPage[T]:
        """Fetch the following page."""
        if not self.next_cursor:
            raise GravityError("This is the last page.")
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[T]]:
        """Yield this page, then each following page as it is fetched."""
        page = self
        yield page
        while page.has_next_page():
            page = await page.get_next_page()
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.items)}, next_cursor={self.next_cursor!r})"


class AsyncPaginator(Generic[T]):
    """What an async ``list()`` returns, before any request is sent.

    ``await`` it for the first ``AsyncCursorPage``, or ``async for`` over it to get every
    item across all pages.
    """

    def __init__(self, first_page: Callable[[], Awaitable[AsyncCursorPage[T]]]) -> None:
        self._first_page = first_page

    def __await__(self) -> Generator[Any, None, AsyncCursorPage[T]]:
        return self._get_first_page().__await__()

    async def _get_first_page(self) -> AsyncCursorPage[T]:
        return await self._first_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first_page()
        async for item in page:
            yield item
