"""The sms service on the session node with the dev outbox provider: HTTP, the bus, idempotency, errors, events."""

from __future__ import annotations

import json
import uuid

import httpx2
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.errors import GravityError
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode
from tests.platform.sms.conftest import sms_event, sms_events, unique_number, wait_status
from tests.platform.support import assert_problem

NUMBER = "+1 (415) 555-2671"
E164 = "+14155552671"


async def outbox_for(http: httpx2.AsyncClient, admin: Account, to: str) -> list[dict[str, object]]:
    response = await http.get("/api/v1/sms/dev/outbox", params={"to": to}, headers=admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_send_over_http_lands_in_the_dev_outbox(http: httpx2.AsyncClient, admin: Account,
                                                      stack: StackEndpoints) -> None:
    response = await http.post("/api/v1/sms/send", headers=admin.headers,
                               json={"to": NUMBER, "body": "Your code is 123456", "metadata": {"purpose": "otp"}})
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["to"] == E164
    assert queued["status"] == "queued"
    sent = await wait_status(http, queued["id"], admin.headers, "sent")
    assert sent["attempts"] == 1
    assert sent["provider"] == "outbox"
    assert sent["provider_message_id"].startswith("outbox-")
    entries = [e for e in await outbox_for(http, admin, E164) if e["message_id"] == queued["id"]]
    assert len(entries) == 1
    assert entries[0]["body"] == "Your code is 123456"
    assert entries[0]["status_callback"] is None, "the outbox takes no status callbacks"
    one = await http.get(f"/api/v1/sms/dev/outbox/{queued['id'][:13]}", headers=admin.headers)
    assert one.status_code == 200, one.text
    assert one.json()["id"] == entries[0]["id"]
    event = await sms_event(stack.nats_url, "sent", queued["id"])
    assert event["type"] == "sms.sent"
    assert event["data"] == {"id": queued["id"], "idempotency_key": None, "metadata": {"purpose": "otp"},
                             "error": None}


async def test_send_over_the_bus(node: RunningNode, http: httpx2.AsyncClient, admin: Account) -> None:
    number = unique_number()
    payload = {"to": number, "body": "over the bus", "idempotency_key": None, "metadata": {"k": "v"}}
    answer = json.loads(await node.node.bus.request("sms", "send", json.dumps(payload).encode()))
    assert answer["status"] == "queued"
    assert set(answer) == {"id", "status"}
    await wait_status(http, answer["id"], admin.headers, "sent")
    status = json.loads(await node.node.bus.request("sms", "status", json.dumps({"id": answer["id"]}).encode()))
    assert status == {"id": answer["id"], "status": "sent", "attempts": 1, "error": None}
    assert [e["body"] for e in await outbox_for(http, admin, number)] == ["over the bus"]


async def test_bus_errors(node: RunningNode) -> None:
    bus = node.node.bus
    for payload, status, code in (
        ({"to": "+1 555", "body": "x", "metadata": {}}, 422, "invalid-phone-number"),
        ({"to": E164}, 400, "validation"),
        ({"id": str(uuid.uuid4())}, 404, "not-found"),
    ):
        endpoint = "status" if "id" in payload else "send"
        with pytest.raises(GravityError) as raised:
            await bus.request("sms", endpoint, json.dumps(payload).encode())
        assert (raised.value.status, raised.value.code) == (status, code), raised.value


async def test_idempotency_key_sends_once(http: httpx2.AsyncClient, admin: Account, stack: StackEndpoints) -> None:
    number = unique_number()
    key = f"otp-{uuid.uuid4()}"
    request = {"to": number, "body": "once", "idempotency_key": key}
    first = await http.post("/api/v1/sms/send", headers=admin.headers, json=request)
    second = await http.post("/api/v1/sms/send", headers=admin.headers, json=request)
    assert first.status_code == 202, first.text
    assert second.status_code == 200, second.text
    assert first.json()["id"] == second.json()["id"]
    await wait_status(http, first.json()["id"], admin.headers, "sent")
    third = await http.post("/api/v1/sms/send", headers=admin.headers, json=request)
    assert third.json()["id"] == first.json()["id"]
    assert third.json()["status"] == "sent"
    assert len(await outbox_for(http, admin, number)) == 1
    event = await sms_event(stack.nats_url, "sent", first.json()["id"])
    assert event["data"]["idempotency_key"] == key
    assert await sms_events(stack.nats_url, "sent", first.json()["id"]) == 1
    other = await http.post("/api/v1/sms/send", headers=admin.headers, json={**request, "body": "different"})
    assert_problem(other, 409, "idempotency-key-reused")


async def test_invalid_numbers_are_422(http: httpx2.AsyncClient, admin: Account) -> None:
    for number in ("12345", "+1 555 000", "not a number", "+999 1234567", "+" + "1" * 40):
        response = await http.post("/api/v1/sms/send", headers=admin.headers, json={"to": number, "body": "x"})
        assert_problem(response, 422, "invalid-phone-number")
    empty = await http.post("/api/v1/sms/send", headers=admin.headers, json={"to": E164, "body": ""})
    assert_problem(empty, 400, "validation")


async def test_only_admins_send_and_read(http: httpx2.AsyncClient, account: Account, admin: Account) -> None:
    sent = await http.post("/api/v1/sms/send", headers=account.headers, json={"to": E164, "body": "hi"})
    assert_problem(sent, 403, "forbidden")
    anonymous = await http.post("/api/v1/sms/send", json={"to": E164, "body": "hi"})
    assert_problem(anonymous, 401)
    queued = await http.post("/api/v1/sms/send", headers=admin.headers, json={"to": E164, "body": "for admins"})
    read = await http.get(f"/api/v1/sms/{queued.json()['id']}", headers=account.headers)
    assert_problem(read, 403, "forbidden")
    assert_problem(await http.get("/api/v1/sms/dev/outbox", headers=account.headers), 403, "forbidden")


async def test_unknown_ids_are_404(http: httpx2.AsyncClient, admin: Account) -> None:
    assert_problem(await http.get(f"/api/v1/sms/{uuid.uuid4()}", headers=admin.headers), 404, "not-found")
    assert_problem(await http.get("/api/v1/sms/dev/outbox/ffffffff", headers=admin.headers), 404, "not-found")
    assert_problem(await http.get("/api/v1/sms/dev/outbox/zz", headers=admin.headers), 404, "not-found")


async def test_callbacks_for_a_provider_not_in_use_are_404(http: httpx2.AsyncClient) -> None:
    response = await http.post("/api/v1/sms/callbacks/twilio", data={"MessageSid": "SM1", "MessageStatus": "sent"})
    assert_problem(response, 404, "not-found")
