"""The email API: queue, deliver through the dev mail catcher, status, idempotency, events, bad input."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx2
import pytest

from gravity_platform.services.email.plugin import EmailService
from gravity_platform.services.email.tables import Message
from tests.platform.conftest import Account, unique_email
from tests.platform.email.support import catcher, caught, email_events, wait_status
from tests.platform.harness import RunningNode


async def test_admin_sends_and_the_catcher_receives(http: httpx2.AsyncClient, node: RunningNode,
                                                    admin: Account) -> None:
    to = unique_email("mail")
    answer = await http.post("/api/v1/email/send", headers=admin.headers, json={
        "to": [to], "subject": "Hello ✓", "text": "plain words", "html": "<p>rich words</p>",
        "metadata": {"order": "42"}})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued"
    status = await wait_status(http, accepted["id"], admin.headers, "sent")
    assert status["attempts"] == 1 and status["error"] is None and status["to"] == [to]
    assert status["metadata"] == {"order": "42"} and status["sent_at"]
    [mail] = await caught(node, to)
    assert mail.subject == "Hello ✓" and mail.to == [to]
    assert mail.body("plain") == "plain words\n" and mail.body("html") == "<p>rich words</p>\n"
    assert mail.message["Message-ID"] == status["message_id"] == f"<{accepted['id']}@gravity.local>"
    [event] = await email_events(node.node.settings.nats.url, "sent", accepted["id"])
    assert event["data"] == {"id": accepted["id"], "idempotency_key": None, "metadata": {"order": "42"},
                             "error": None}


async def test_the_catcher_is_readable_over_http_by_admins_only(http: httpx2.AsyncClient, node: RunningNode,
                                                                admin: Account, account: Account) -> None:
    to = unique_email("http")
    sent = await http.post("/api/v1/email/send", headers=admin.headers,
                           json={"to": [to], "subject": "Over HTTP", "text": "body"})
    [mail] = await caught(node, to)
    listing = await http.get("/api/v1/email/dev/messages", headers=admin.headers, params={"limit": 500})
    assert listing.status_code == 200
    [item] = [item for item in listing.json()["items"] if item["id"] == mail.id]
    assert item["to"] == [to] and item["subject"] == "Over HTTP" and item["from"]
    one = await http.get(f"/api/v1/email/dev/messages/{mail.id}", headers=admin.headers)
    assert one.json()["text"] == "body\n" and one.json()["envelope_to"] == [to]
    assert one.json()["message_id"] == f"<{sent.json()['id']}@gravity.local>"
    assert (await http.get("/api/v1/email/dev/messages/20200101T000000000000Z-00000000",
                           headers=admin.headers)).status_code == 404
    assert (await http.get("/api/v1/email/dev/messages", headers=account.headers)).status_code == 403
    assert (await http.get("/api/v1/email/dev/messages")).status_code == 401


async def test_an_idempotency_key_sends_once(http: httpx2.AsyncClient, node: RunningNode, admin: Account) -> None:
    to = unique_email("once")
    body = {"to": [to], "subject": "Once", "text": "only once", "idempotency_key": f"k-{uuid.uuid4()}"}
    answers = await asyncio.gather(*(http.post("/api/v1/email/send", headers=admin.headers, json=body)
                                     for _ in range(5)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    await wait_status(http, answers[0].json()["id"], admin.headers, "sent")
    again = await http.post("/api/v1/email/send", headers=admin.headers, json=body)
    repeated = again.json()
    assert again.status_code == 202
    assert (repeated["id"], repeated["status"], repeated["attempts"]) == (answers[0].json()["id"], "sent", 1)
    await asyncio.sleep(0.5)
    assert len(await caught(node, to)) == 1
    assert await _queued_for(to) == 1


async def test_other_services_send_over_the_bus(node: RunningNode) -> None:
    to = unique_email("bus")
    request = {"to": [to], "subject": "From a service", "text": "hi", "html": None, "template": None,
               "data": None, "locale": None, "idempotency_key": None, "metadata": {"k": "v"}}
    accepted = json.loads(await node.node.bus.request("email", "send", json.dumps(request).encode()))
    assert accepted["status"] == "queued"
    await caught(node, to)
    for _ in range(100):
        status = json.loads(await node.node.bus.request("email", "status", json.dumps({"id": accepted["id"]}).encode()))
        if status["status"] == "sent":
            break
        await asyncio.sleep(0.05)
    assert status == {"id": accepted["id"], "status": "sent", "attempts": 1, "error": None}


async def _queued_for(address: str) -> int:
    return int(await Message.count().where(Message.recipients.any(address)))


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"to": ["not-an-address", "TO"], "subject": "s", "text": "t"}, 422, "invalid-email-address"),
    ({"to": ["TO", "two@@x.example"], "subject": "s", "text": "t"}, 422, "invalid-email-address"),
    ({"to": ["TO"], "subject": "s", "text": "t", "reply_to": "no"}, 422, "invalid-email-address"),
    ({"to": ["TO"], "subject": "line\r\nBcc: x@example.com", "text": "t"}, 422, "unprocessable"),
    ({"to": ["TO"], "text": "no subject"}, 422, "unprocessable"),
    ({"to": [], "subject": "s", "text": "t"}, 400, "validation"),
    ({"to": "TO", "subject": "s", "text": "t"}, 400, "validation"),
])
async def test_bad_input_is_refused_and_queues_nothing(http: httpx2.AsyncClient, admin: Account,
                                                       body: dict[str, object], status: int, code: str) -> None:
    to = unique_email("bad")
    filled = json.loads(json.dumps(body).replace('"TO"', json.dumps(to)))
    answer = await http.post("/api/v1/email/send", headers=admin.headers, json=filled)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"urn:gravity:error:{code}"
    assert await _queued_for(to) == 0


async def test_unknown_ids_and_non_admins(http: httpx2.AsyncClient, node: RunningNode, admin: Account,
                                          account: Account) -> None:
    unknown = await http.get(f"/api/v1/email/{uuid.uuid4()}", headers=admin.headers)
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:gravity:error:not-found"
    assert (await http.get("/api/v1/email/not-a-uuid", headers=admin.headers)).status_code == 404
    to = unique_email("forbidden")
    refused = await http.post("/api/v1/email/send", headers=account.headers,
                              json={"to": [to], "subject": "s", "text": "t"})
    assert refused.status_code == 403
    assert (await http.post("/api/v1/email/send", json={"to": [to], "subject": "s", "text": "t"})).status_code == 401
    with pytest.raises(Exception, match="No such email"):
        await node.node.bus.request("email", "status", json.dumps({"id": "nope"}).encode())
    await asyncio.sleep(0.3)
    assert [mail for mail in catcher(node).list() if to in mail.envelope_to] == []


async def test_the_catcher_api_is_404_without_a_catcher(http: httpx2.AsyncClient, node: RunningNode,
                                                        admin: Account) -> None:
    service = node.node.service("email")
    assert isinstance(service, EmailService)
    saved = service.settings
    service.settings = saved.model_copy(update={"catcher_dir": None})
    try:
        answer = await http.get("/api/v1/email/dev/messages", headers=admin.headers)
    finally:
        service.settings = saved
    assert answer.status_code == 404 and "catcher" in answer.json()["detail"]


@pytest.mark.parametrize(("transport", "options"), [
    (None, {}), ("carrier-pigeon", {}), ("smtp", {"port": "not a port"}), ("smtp", {"tls": "sometimes"})])
async def test_an_unusable_transport_refuses_mail_with_503(http: httpx2.AsyncClient, node: RunningNode,
                                                           admin: Account, transport: str | None,
                                                           options: dict[str, object]) -> None:
    service = node.node.service("email")
    assert isinstance(service, EmailService)
    saved = service.settings, service.transport
    service.settings = saved[0].model_copy(update={"transport": transport, "transport_options": options})
    try:
        service.transport = service._load_transport()
        assert service.transport is None
        to = unique_email("refused")
        answer = await http.post("/api/v1/email/send", headers=admin.headers,
                                 json={"to": [to], "subject": "s", "text": "t"})
        assert await _queued_for(to) == 0
    finally:
        service.settings, service.transport = saved
    assert answer.status_code == 503 and answer.json()["type"] == "urn:gravity:error:email-not-configured"
