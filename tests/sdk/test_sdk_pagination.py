"""Cursor pages fetch the following pages only when iteration reaches them."""

from __future__ import annotations

import httpx2
import pytest

import gravity_sdk as g

from .conftest import user


class Pages:
    """Serves ``pages`` pages of ``per_page`` users, recording each request."""

    def __init__(self, pages=3, per_page=2):
        self.pages = pages
        self.per_page = per_page
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        cursor = request.url.params.get("cursor")
        index = int(cursor.removeprefix("c")) if cursor else 0
        items = [user(id=f"u{index}-{n}") for n in range(self.per_page)]
        next_cursor = f"c{index + 1}" if index + 1 < self.pages else None
        return httpx2.Response(200, json={"items": items, "next_cursor": next_cursor})


def test_list_fetches_only_the_first_page(make_client):
    pages = Pages()
    client = make_client(pages)

    page = client.users.list(q="ada", limit=2)

    assert isinstance(page, g.SyncCursorPage)
    assert [u.id for u in page.items] == ["u0-0", "u0-1"]
    assert page.next_cursor == "c1"
    assert page.has_next_page()
    assert len(pages.requests) == 1
    assert dict(pages.requests[0].url.params) == {"q": "ada", "limit": "2"}


def test_iteration_fetches_pages_lazily(make_client):
    pages = Pages()
    client = make_client(pages)
    items = iter(client.users.list(limit=2))

    assert [next(items).id for _ in range(2)] == ["u0-0", "u0-1"]
    assert len(pages.requests) == 1
    assert next(items).id == "u1-0"
    assert len(pages.requests) == 2
    assert dict(pages.requests[1].url.params) == {"limit": "2", "cursor": "c1"}


def test_iteration_walks_every_page(make_client):
    pages = Pages(pages=3)
    client = make_client(pages)

    ids = [u.id for u in client.users.list()]

    assert ids == ["u0-0", "u0-1", "u1-0", "u1-1", "u2-0", "u2-1"]
    assert len(pages.requests) == 3


def test_stopping_early_never_fetches_later_pages(make_client):
    pages = Pages(pages=5)
    client = make_client(pages)

    for item in client.users.list():
        if item.id == "u1-0":
            break

    assert len(pages.requests) == 2


def test_iter_pages_and_get_next_page(make_client):
    pages = Pages(pages=2)
    client = make_client(pages)
    first = client.users.list()

    assert [p.next_cursor for p in first.iter_pages()] == ["c1", None]
    last = first.get_next_page()
    assert not last.has_next_page()
    with pytest.raises(g.GravityError):
        last.get_next_page()


def test_api_keys_list_is_paginated(make_client):
    def handler(request):
        key = {
            "id": "k1",
            "name": "ci",
            "scopes": ["users:read"],
            "client_id": "cid",
            "created_at": "2025-01-01T00:00:00Z",
        }
        return httpx2.Response(200, json={"items": [key], "next_cursor": None})

    client = make_client(handler)

    keys = list(client.auth.api_keys.list(limit=10))
    assert [k.client_id for k in keys] == ["cid"]
    assert keys[0].expires_at is None


def test_page_errors_surface_while_iterating(make_client):
    def handler(request):
        if request.url.params.get("cursor"):
            return httpx2.Response(403, json={"type": "urn:gravity:error:forbidden", "title": "Forbidden"})
        return httpx2.Response(200, json={"items": [user()], "next_cursor": "c1"})

    client = make_client(handler)
    items = iter(client.users.list())
    next(items)

    with pytest.raises(g.PermissionDeniedError):
        next(items)


async def test_async_list_sends_nothing_until_used(make_async_client):
    pages = Pages()
    client = make_async_client(pages)

    paginator = client.users.list(limit=2)

    assert isinstance(paginator, g.AsyncPaginator)
    assert pages.requests == []
    page = await paginator
    assert isinstance(page, g.AsyncCursorPage)
    assert [u.id for u in page.items] == ["u0-0", "u0-1"]
    assert len(pages.requests) == 1


async def test_async_iteration_fetches_pages_lazily(make_async_client):
    pages = Pages(pages=4)
    client = make_async_client(pages)
    seen = []

    async for item in client.users.list(q="x"):
        seen.append(item.id)
        if item.id == "u1-1":
            break

    assert seen == ["u0-0", "u0-1", "u1-0", "u1-1"]
    assert len(pages.requests) == 2
    assert all(r.url.params["q"] == "x" for r in pages.requests)


async def test_async_page_iteration_and_next_page(make_async_client):
    pages = Pages(pages=3)
    client = make_async_client(pages)
    page = await client.users.list()

    cursors = [p.next_cursor async for p in page.iter_pages()]
    assert cursors == ["c1", "c2", None]
    assert [u.id async for u in page][-1] == "u2-1"
    second = await page.get_next_page()
    assert second.items[0].id == "u1-0"


def test_malformed_page_is_a_validation_error(make_client):
    client = make_client(lambda request: httpx2.Response(200, json={"items": "nope"}))

    with pytest.raises(g.APIResponseValidationError):
        client.users.list()


async def test_async_last_page_has_no_next(make_async_client):
    client = make_async_client(Pages(pages=1))

    page = await client.users.list()

    assert repr(page) == "AsyncCursorPage(items=2, next_cursor=None)"
    with pytest.raises(g.GravityError):
        await page.get_next_page()
