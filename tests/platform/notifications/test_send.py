"""Sending: fan-out honouring preferences, idempotency, delivery status, who may send."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
import nats
import pytest

from gravity_platform.kernel.errors import GravityError
from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.notifications.plugin import NotificationsService
from gravity_platform.services.notifications.tables import Delivery, InboxItem, Notification, Preference
from tests.platform.conftest import Account, new_account
from tests.platform.notifications.conftest import (
    INAPP,
    attempt_send,
    channel_status,
    eventually,
    notification,
    put_template,
    send,
    unique_name,
)
from tests.platform.support import assert_problem

ALL = {
    **INAPP,
    "email": {"subject": "Hi {{ name }}", "text": "Hello {{ name }}"},
    "sms": {"text": "Hi {{ name }}"},
    "push": {"title": "Hi", "body": "{{ count }} new"},
}


async def _preferences(http: httpx2.AsyncClient, account: Account, **change: Any) -> dict[str, Any]:
    response = await http.patch("/api/v1/notifications/preferences", json=change, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_fan_out_honours_preferences(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    name = unique_name()
    await put_template(http, admin, name, ALL, category="marketing")
    await _preferences(http, account, channels={"email": False}, categories={"marketing": {"inapp": False}})
    response = await send(http, admin, user_id=account.id, template=name, data={"name": "Ada", "count": 2})
    assert response.status_code == 201, response.text
    created = response.json()["notifications"][0]
    status = channel_status(created)
    assert status["email"] == "skipped" and status["inapp"] == "skipped"
    assert status["sms"] == "skipped"  # no phone number yet
    reasons = {d["channel"]: d["last_error"] for d in created["deliveries"]}
    assert reasons["email"] == "turned off by the user" and "phone" in reasons["sms"]
    final = await eventually(lambda: notification(http, admin, created["id"]),
                             lambda body: channel_status(body)["push"] == "failed")
    push = next(d for d in final["deliveries"] if d["channel"] == "push")
    assert "no push subscriptions" in push["last_error"] and push["attempts"] == 1
    unread = (await http.get("/api/v1/notifications/inbox/unread-count", headers=account.headers)).json()
    assert unread == {"unread": 0}

    await _preferences(http, account, categories={})
    again = await send(http, admin, user_id=account.id, template=name, data={"name": "Ada", "count": 3},
                       channels=["inapp"])
    only = again.json()["notifications"][0]
    assert list(channel_status(only)) == ["inapp"]
    await eventually(lambda: notification(http, admin, only["id"]),
                     lambda body: channel_status(body)["inapp"] == "delivered")


async def test_same_idempotency_key_notifies_once(http: httpx2.AsyncClient, admin: Account,
                                                  account: Account) -> None:
    other = await new_account(http)
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    key = uuid.uuid4().hex
    first = await send(http, admin, user_ids=[account.id, other.id], template=name, data={"name": "x", "count": 1},
                       idempotency_key=key)
    second = await send(http, admin, user_ids=[account.id, other.id], template=name,
                        data={"name": "y", "count": 9}, idempotency_key=key)
    ids = [n["id"] for n in first.json()["notifications"]]
    assert len(set(ids)) == 2
    assert [n["id"] for n in second.json()["notifications"]] == ids
    for user in (account, other):
        inbox = await eventually(
            lambda user=user: http.get("/api/v1/notifications/inbox/", headers=user.headers),  # type: ignore[misc]
            lambda response: len(response.json()["items"]) >= 1)
        assert [i["title"] for i in inbox.json()["items"]] == ["Hello x"]


async def test_who_may_send_and_read_status(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    refused = await attempt_send(http, account, user_id=account.id, template=name, data={"name": "x", "count": 1})
    assert_problem(refused, 403, "forbidden")
    assert_problem(await attempt_send(http, admin, template=name, data={}), 422)
    sent = await send(http, admin, user_id=account.id, template=name, data={"name": "x", "count": 1})
    notification_id = sent.json()["notifications"][0]["id"]
    assert_problem(await http.get(f"/api/v1/notifications/{notification_id}", headers=account.headers), 403)
    assert_problem(await http.get(f"/api/v1/notifications/{uuid.uuid4()}", headers=admin.headers), 404)
    nobody = await attempt_send(http, admin, user_id=str(uuid.uuid4()), template=name, data={"name": "x", "count": 1})
    assert_problem(nobody, 422)


async def test_send_over_the_bus(http: httpx2.AsyncClient, admin: Account, account: Account,
                                 service: NotificationsService) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    request = {"template": name, "user_id": account.id, "data": {"name": "bus", "count": 1},
               "idempotency_key": uuid.uuid4().hex}
    bus = service.node.bus
    first = json.loads(await bus.request("notifications", "send", json.dumps(request).encode()))
    second = json.loads(await bus.request("notifications", "send", json.dumps(request).encode()))
    assert first["notifications"][0]["id"] == second["notifications"][0]["id"]
    with pytest.raises(GravityError) as refused:
        await bus.request("notifications", "send", json.dumps({**request, "template": "Bad Name"}).encode())
    assert refused.value.status == 400


async def test_erased_with_the_user(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    await http.patch("/api/v1/notifications/preferences", json={"locale": "fr"}, headers=account.headers)
    await send(http, admin, user_id=account.id, template=name, data={"name": "x", "count": 1})
    await eventually(lambda: http.get("/api/v1/notifications/inbox/unread-count", headers=account.headers),
                     lambda response: response.json()["unread"] == 1)
    assert (await http.delete(f"/api/v1/users/{account.id}", headers=admin.headers)).status_code == 204

    async def kept() -> int:
        return sum([await InboxItem.count().where(InboxItem.user_id == account.id),
                    await Preference.count().where(Preference.user_id == account.id),
                    await Notification.count().where(Notification.user_id == account.id)])

    await eventually(kept, lambda count: count == 0)


async def test_a_redelivered_job_does_not_deliver_twice(http: httpx2.AsyncClient, admin: Account, account: Account,
                                                        settings: GravitySettings) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    first = (await send(http, admin, user_id=account.id, template=name, data={"name": "a", "count": 1})).json()
    notification_id = first["notifications"][0]["id"]
    await eventually(lambda: notification(http, admin, notification_id),
                     lambda body: channel_status(body)["inapp"] == "delivered")
    delivery = await Delivery.select(Delivery.id).where(Delivery.notification_id == notification_id).first()
    assert delivery is not None
    connection = await nats.connect(settings.nats.url)
    try:  # the same job once more, as JetStream would redeliver it
        job = {"delivery_id": str(delivery["id"]), "channel": "inapp"}
        await connection.jetstream().publish("gravity.notify.job.inapp", json.dumps(job).encode())
    finally:
        await connection.close()
    await send(http, admin, user_id=account.id, template=name, data={"name": "b", "count": 2})
    page = await eventually(lambda: http.get("/api/v1/notifications/inbox/", headers=account.headers),
                            lambda response: any(i["title"] == "Hello b" for i in response.json()["items"]))
    assert sorted(i["title"] for i in page.json()["items"]) == ["Hello a", "Hello b"]
