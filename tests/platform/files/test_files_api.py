"""The files API on the session node: uploads, metadata, downloads with Range and ETag, sharing, deletes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from email.utils import format_datetime, parsedate_to_datetime

import httpx2
import nats

from gravity_platform.devstack import StackEndpoints
from gravity_platform.services.files.transfer import MAX_RANGES
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import sha256, upload
from tests.platform.support import assert_problem, byte_ranges, superuser_fetch

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(200)


async def test_raw_upload_then_metadata_and_bytes(http: httpx2.AsyncClient, account: Account) -> None:
    data = b"hello, files\n" * 100
    created = await upload(http, account.headers, data, name="hello.txt")
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["size"] == len(data) and info["sha256"] == sha256(data)
    assert info["name"] == "hello.txt" and info["owner_id"] == account.id
    assert info["content_type"].startswith("text/plain")
    assert created.headers["location"] == f"/api/v1/files/{info['id']}"

    meta = await http.get(f"/api/v1/files/{info['id']}", headers=account.headers)
    assert meta.status_code == 200 and meta.json() == info
    content = await http.get(f"/api/v1/files/{info['id']}/content", headers=account.headers)
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["etag"] == f'"{sha256(data)}"'
    assert content.headers["content-length"] == str(len(data))
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith('attachment; filename="hello.txt"')


async def test_multipart_upload_detects_the_type_from_the_bytes(http: httpx2.AsyncClient, account: Account) -> None:
    created = await http.post("/api/v1/files", headers=account.headers,
                              files={"file": ("picture.txt", PNG, "text/plain")}, data={"note": "ignored"})
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["name"] == "picture.txt"
    assert info["content_type"] == "image/png"
    assert info["sha256"] == sha256(PNG)
    content = await http.get(f"/api/v1/files/{info['id']}/content", headers=account.headers)
    assert content.content == PNG and content.headers["content-type"] == "image/png"


async def test_multipart_without_a_file_part_is_400(http: httpx2.AsyncClient, account: Account) -> None:
    refused = await http.post("/api/v1/files", headers=account.headers, files={"other": ("a.txt", b"abc")})
    assert_problem(refused, 400)


async def test_ranges(http: httpx2.AsyncClient, account: Account) -> None:
    data = bytes(range(256)) * 40
    file_id = (await upload(http, account.headers, data, name="range.bin")).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    part = await http.get(url, headers={**account.headers, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    suffix = await http.get(url, headers={**account.headers, "Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == data[-10:]
    open_ended = await http.get(url, headers={**account.headers, "Range": "bytes=10000-"})
    assert open_ended.status_code == 206 and open_ended.content == data[10000:]

    unsatisfiable = await http.get(url, headers={**account.headers, "Range": f"bytes={len(data)}-"})
    assert_problem(unsatisfiable, 416, "range-not-satisfiable")
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(data)}"

    stale = await http.get(url, headers={**account.headers, "Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data


async def test_several_ranges_in_one_answer(http: httpx2.AsyncClient, account: Account) -> None:
    """Several ranges come back as multipart/byteranges (RFC 9110 14.6): ascending, overlapping or nearly adjacent
    ones merged, unsatisfiable ones left out; its Content-Length is exact."""
    data = bytes(range(256)) * 40
    file_id = (await upload(http, account.headers, data, name="parts.bin")).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    size = len(data)
    several = await http.get(url, headers={**account.headers, "Range": f"bytes=9000-9099, 0-9, 5-19, -5, {size}-"})
    assert several.headers["content-length"] == str(len(several.content))
    assert byte_ranges(several) == [(f"bytes 0-19/{size}", data[:20]), (f"bytes 9000-9099/{size}", data[9000:9100]),
                                     (f"bytes {size - 5}-{size - 1}/{size}", data[-5:])]
    assert "content-range" not in several.headers

    near = await http.get(url, headers={**account.headers, "Range": "bytes=0-9,30-39"})  # merged: one plain part
    assert near.status_code == 206 and near.headers["content-range"] == f"bytes 0-39/{size}"
    assert near.content == data[:40]
    too_many = ",".join(f"{n * 200}-{n * 200}" for n in range(MAX_RANGES + 1))
    whole = await http.get(url, headers={**account.headers, "Range": f"bytes={too_many}"})
    assert whole.status_code == 200 and whole.content == data
    none_fits = await http.get(url, headers={**account.headers, "Range": f"bytes={size}-,{size + 5}-{size + 9}"})
    assert_problem(none_fits, 416, "range-not-satisfiable")


async def test_etag_revalidation(http: httpx2.AsyncClient, account: Account) -> None:
    data = b"cache me"
    file_id = (await upload(http, account.headers, data)).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    etag = (await http.get(url, headers=account.headers)).headers["etag"]
    unchanged = await http.get(url, headers={**account.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    changed = await http.get(url, headers={**account.headers, "If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == data


async def test_last_modified_revalidation(http: httpx2.AsyncClient, account: Account) -> None:
    """Last-Modified is the file's creation (its bytes never change); If-Modified-Since at or after it is 304,
    before it 200; If-None-Match, when sent, decides instead (RFC 9110 13.1.3); a bad date is ignored."""
    data = b"dated"
    file_id = (await upload(http, account.headers, data)).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    first = await http.get(url, headers=account.headers)
    modified = parsedate_to_datetime(first.headers["last-modified"])
    assert abs((modified - dt.datetime.now(dt.UTC)).total_seconds()) < 300
    later = format_datetime(modified + dt.timedelta(seconds=5), usegmt=True)
    earlier = format_datetime(modified - dt.timedelta(seconds=5), usegmt=True)
    for since, status in ((first.headers["last-modified"], 304), (later, 304), (earlier, 200), ("yesterday", 200)):
        answer = await http.get(url, headers={**account.headers, "If-Modified-Since": since})
        assert answer.status_code == status, since
        assert answer.content == (data if status == 200 else b"")
    etag_wins = await http.get(url, headers={**account.headers, "If-Modified-Since": later, "If-None-Match": '"x"'})
    assert etag_wins.status_code == 200


async def test_a_traversal_name_is_only_a_name(http: httpx2.AsyncClient, account: Account,
                                               stack: StackEndpoints) -> None:
    created = await upload(http, account.headers, b"root:x:0:0", name="../../etc/passwd")
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["name"] == "../../etc/passwd"
    rows = await superuser_fetch(stack, "SELECT storage_key FROM files.file WHERE id = $1", uuid.UUID(info["id"]))
    assert rows[0]["storage_key"] == f"f/{info['id'][:2]}/{info['id']}"
    content = await http.get(f"/api/v1/files/{info['id']}/content", headers=account.headers)
    disposition = content.headers["content-disposition"]
    assert "/" not in disposition.split("filename*=")[0] and "%2F" not in disposition
    assert content.content == b"root:x:0:0"


async def test_listing_pages_through_the_callers_files(http: httpx2.AsyncClient) -> None:
    owner = await new_account(http, "lister")
    other = await new_account(http, "other")
    await upload(http, other.headers, b"not mine")
    ids = [(await upload(http, owner.headers, f"file {n}".encode(), name=f"{n}.txt")).json()["id"] for n in range(5)]
    first = await http.get("/api/v1/files", params={"limit": 2}, headers=owner.headers)
    assert first.status_code == 200
    seen = [item["id"] for item in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = (await http.get("/api/v1/files", params={"limit": 2, "cursor": cursor}, headers=owner.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids
    bad = await http.get("/api/v1/files", params={"cursor": "garbage"}, headers=owner.headers)
    assert_problem(bad, 422)
    assert_problem(await http.get("/api/v1/files"), 401)


async def test_someone_elses_file_is_not_found_and_not_deletable(http: httpx2.AsyncClient) -> None:
    owner = await new_account(http, "owner")
    stranger = await new_account(http, "stranger")
    file_id = (await upload(http, owner.headers, b"private")).json()["id"]
    for path in (f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/content"):
        assert_problem(await http.get(path, headers=stranger.headers), 404)
        assert_problem(await http.get(path), 404)
    unknown = await http.get(f"/api/v1/files/{uuid.uuid4()}", headers=stranger.headers)
    assert unknown.json()["detail"] == (await http.get(f"/api/v1/files/{file_id}",
                                                       headers=stranger.headers)).json()["detail"]
    assert_problem(await http.delete(f"/api/v1/files/{file_id}", headers=stranger.headers), 404)
    assert_problem(await http.post(f"/api/v1/files/{file_id}/signed-url", headers=stranger.headers, json={}), 404)
    assert_problem(await http.get("/api/v1/files/not-a-uuid", headers=stranger.headers), 404)
    assert (await http.get(f"/api/v1/files/{file_id}/content", headers=owner.headers)).content == b"private"


async def test_sharing_with_users_roles_and_everyone(http: httpx2.AsyncClient) -> None:
    owner = await new_account(http, "sharer")
    friend = await new_account(http, "friend")
    file_id = (await upload(http, owner.headers, b"shared bytes")).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    shared = await http.patch(f"/api/v1/files/{file_id}/sharing", headers=owner.headers, json={"users": [friend.id]})
    assert shared.status_code == 200, shared.text
    assert shared.json()["shared_with_users"] == [friend.id]
    assert (await http.get(url, headers=friend.headers)).content == b"shared bytes"
    assert_problem(await http.delete(f"/api/v1/files/{file_id}", headers=friend.headers), 403)
    assert_problem(await http.patch(f"/api/v1/files/{file_id}/sharing", headers=friend.headers,
                                    json={"public": True}), 403)

    by_role = await http.patch(f"/api/v1/files/{file_id}/sharing", headers=owner.headers,
                               json={"users": [], "roles": ["user"]})
    assert by_role.json()["shared_with_roles"] == ["user"]
    stranger = await new_account(http, "any-user")
    assert (await http.get(url, headers=stranger.headers)).status_code == 200
    assert_problem(await http.get(url), 404)

    public = await http.patch(f"/api/v1/files/{file_id}/sharing", headers=owner.headers,
                              json={"public": True, "roles": []})
    assert public.json()["public"] is True
    assert (await http.get(url)).content == b"shared bytes"
    invalid = await http.patch(f"/api/v1/files/{file_id}/sharing", headers=owner.headers, json={"users": ["nope"]})
    assert invalid.status_code == 400


async def test_signed_urls(http: httpx2.AsyncClient, account: Account, stack: StackEndpoints) -> None:
    file_id = (await upload(http, account.headers, b"signed bytes")).json()["id"]
    issued = await http.post(f"/api/v1/files/{file_id}/signed-url", headers=account.headers,
                             json={"expires_in": 60})
    assert issued.status_code == 201, issued.text
    url = httpx2.URL(issued.json()["url"])
    assert url.path == f"/api/v1/files/{file_id}/content"
    anonymous = await http.get(url.path, params=dict(url.params))
    assert anonymous.status_code == 200 and anonymous.content == b"signed bytes"

    params = dict(url.params)
    tampered_expiry = {**params, "expires": str(int(params["expires"]) + 3600)}
    assert_problem(await http.get(url.path, params=tampered_expiry), 403)
    tampered_signature = {**params, "signature": params["signature"][:-2] + "AA"}
    assert_problem(await http.get(url.path, params=tampered_signature), 403)
    other = (await upload(http, account.headers, b"another")).json()["id"]
    assert_problem(await http.get(f"/api/v1/files/{other}/content", params=params), 403)

    short = await http.post(f"/api/v1/files/{file_id}/signed-url", headers=account.headers, json={"expires_in": 1})
    short_url = httpx2.URL(short.json()["url"])
    await asyncio.sleep(2.1)
    expired = await http.get(short_url.path, params=dict(short_url.params))
    assert_problem(expired, 403)
    assert "expired" in expired.json()["detail"]
    assert_problem(await http.post(f"/api/v1/files/{file_id}/signed-url", headers=account.headers,
                                   json={"expires_in": 10**9}), 422)
    audit = await superuser_fetch(stack, "SELECT action FROM files.audit_log WHERE target = $1", file_id)
    assert [r["action"] for r in audit] == ["file_signed_url"] * 2


async def test_delete_removes_row_bytes_and_quota_and_publishes_events(
        http: httpx2.AsyncClient, account: Account, stack: StackEndpoints) -> None:
    connection = await nats.connect(stack.nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.subscribe("gravity.events.files.*", ordered_consumer=True,
                                          deliver_policy=nats.js.api.DeliverPolicy.NEW)
        data = os.urandom(3000)
        file_id = (await upload(http, account.headers, data)).json()["id"]
        usage = await superuser_fetch(stack, "SELECT used FROM files.usage WHERE owner_id = $1", uuid.UUID(account.id))
        assert usage[0]["used"] == 3000
        deleted = await http.delete(f"/api/v1/files/{file_id}", headers=account.headers)
        assert deleted.status_code == 204
        assert_problem(await http.get(f"/api/v1/files/{file_id}", headers=account.headers), 404)
        usage = await superuser_fetch(stack, "SELECT used FROM files.usage WHERE owner_id = $1", uuid.UUID(account.id))
        assert usage[0]["used"] == 0
        garbage = await superuser_fetch(stack, "SELECT 1 FROM files.garbage WHERE storage_key LIKE $1", f"%{file_id}")
        assert garbage == []
        events = []
        while len(events) < 2:
            message = await subscription.next_msg(timeout=10)
            event = json.loads(message.data)
            if event["data"]["file_id"] == file_id:
                events.append((message.subject, event["data"]))
        assert events[0][0] == "gravity.events.files.uploaded"
        assert events[0][1]["sha256"] == sha256(data) and events[0][1]["size"] == 3000
        assert events[1] == ("gravity.events.files.deleted", {"file_id": file_id, "owner_id": account.id})
    finally:
        await connection.close()


async def test_a_bad_token_on_an_open_route_is_401_not_404(http: httpx2.AsyncClient, account: Account) -> None:
    file_id = (await upload(http, account.headers, b"mine")).json()["id"]
    stale = {"Authorization": "Bearer not-a-token"}
    for path in (f"/api/v1/files/{file_id}", f"/api/v1/files/{file_id}/content"):
        assert_problem(await http.get(path, headers=stale), 401)
