"""Email with a template: rendered by the notifications service (`notifications.render`), then delivered."""

from __future__ import annotations

import uuid

import httpx2

from gravity_platform.services.email.tables import Message
from tests.platform.conftest import Account, unique_email
from tests.platform.email.support import caught, wait_status
from tests.platform.harness import RunningNode


async def test_a_template_is_rendered_and_sent(http: httpx2.AsyncClient, node: RunningNode, admin: Account) -> None:
    name = f"welcome-{uuid.uuid4().hex[:8]}"
    saved = await http.put(f"/api/v1/notifications/templates/{name}", headers=admin.headers, json={
        "channels": {"email": {"subject": "Welcome, {{ name }}", "text": "Hello {{ name }}, your code is {{ code }}.",
                               "html": "<p>Hello {{ name }}</p>"}}})
    assert saved.status_code == 201, saved.text
    to = unique_email("template")
    answer = await http.post("/api/v1/email/send", headers=admin.headers, json={
        "to": [to], "template": name, "data": {"name": "Ada <&>", "code": "1234"}})
    assert answer.status_code == 202, answer.text
    await wait_status(http, answer.json()["id"], admin.headers, "sent")
    [mail] = await caught(node, to)
    assert mail.subject == "Welcome, Ada <&>"
    assert mail.body("plain") == "Hello Ada <&>, your code is 1234.\n"
    assert mail.body("html") == "<p>Hello Ada &lt;&amp;&gt;</p>\n"


async def test_an_unknown_template_is_404_and_queues_nothing(http: httpx2.AsyncClient, admin: Account) -> None:
    to = unique_email("none")
    answer = await http.post("/api/v1/email/send", headers=admin.headers, json={
        "to": [to], "template": f"missing-{uuid.uuid4().hex[:8]}", "data": {}})
    assert answer.status_code == 404, answer.text
    assert answer.json()["type"] == "urn:gravity:error:template-not-found"
    assert await Message.count().where(Message.recipients.any(to)) == 0
