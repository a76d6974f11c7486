"""Templates: CRUD, versions pinned by sends, compile checks and the sandbox."""

from __future__ import annotations

import json

import httpx2
import pytest

from gravity_platform.kernel.errors import GravityError
from gravity_platform.services.notifications.plugin import NotificationsService
from tests.platform.conftest import Account
from tests.platform.notifications.conftest import INAPP, attempt_send, notification, put_template, send, unique_name
from tests.platform.support import assert_problem

EMAIL = {"subject": "Hi {{ name }}", "text": "Hello {{ name }}", "html": "<p>Hello {{ name }}</p>"}


async def test_versions_list_get_delete(http: httpx2.AsyncClient, admin: Account) -> None:
    name = unique_name()
    first = await put_template(http, admin, name, {"email": EMAIL}, category="account", description="v1")
    assert (first["version"], first["category"], first["locale"]) == (1, "account", "")
    second = await put_template(http, admin, name, {"email": {**EMAIL, "subject": "Hey {{ name }}"}})
    assert second["version"] == 2
    french = await put_template(http, admin, name, {"email": {**EMAIL, "subject": "Salut"}}, locale="fr")
    assert (french["version"], french["locale"]) == (1, "fr")

    base = f"/api/v1/notifications/templates/{name}"
    latest = (await http.get(base, headers=admin.headers)).json()
    assert latest["version"] == 2 and latest["channels"]["email"]["subject"] == "Hey {{ name }}"
    old = (await http.get(base, params={"version": 1}, headers=admin.headers)).json()
    assert old["channels"]["email"]["subject"] == "Hi {{ name }}"
    versions = (await http.get(f"{base}/versions", headers=admin.headers)).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    listed = (await http.get("/api/v1/notifications/templates/", headers=admin.headers)).json()["items"]
    mine = {(t["locale"], t["version"]) for t in listed if t["name"] == name}
    assert mine == {("", 2), ("fr", 1)}

    assert (await http.delete(base, params={"locale": "fr"}, headers=admin.headers)).status_code == 204
    assert_problem(await http.get(base, params={"locale": "fr"}, headers=admin.headers), 404, "template-not-found")
    assert (await http.get(base, headers=admin.headers)).status_code == 200


async def test_send_pins_the_version(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    sent = (await send(http, admin, user_id=account.id, template=name, data={"name": "A", "count": 1})).json()
    await put_template(http, admin, name, {"inapp": {"title": "v2", "body": "v2"}})
    again = (await send(http, admin, user_id=account.id, template=name, data={})).json()
    first, second = sent["notifications"][0], again["notifications"][0]
    assert (first["template_version"], second["template_version"]) == (1, 2)
    assert (await notification(http, admin, first["id"]))["template_version"] == 1


async def test_unknown_template_and_missing_variables(http: httpx2.AsyncClient, admin: Account,
                                                      account: Account) -> None:
    missing = await attempt_send(http, admin, user_id=account.id, template=unique_name("none"), data={})
    assert_problem(missing, 404, "template-not-found")
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    undefined = await attempt_send(http, admin, user_id=account.id, template=name, data={"name": "x"})
    body = assert_problem(undefined, 422, "render-failed")
    assert "count" in body["detail"]


async def test_bad_templates_are_refused_at_save(http: httpx2.AsyncClient, admin: Account) -> None:
    url = f"/api/v1/notifications/templates/{unique_name()}"
    cases = [
        {"inapp": {"title": "{{ oops", "body": "x"}},
        {"inapp": {"title": "{{ ''.__class__.__mro__ }}", "body": "x"}},
        {"inapp": {"title": "{{ x['__globals__'] }}", "body": "x"}},
        {"inapp": {"title": "{{ ''|attr('__class__') }}", "body": "x"}},
        {"email": {"subject": "s", "text": "t", "html": "{% for %}"}},
        {},
    ]
    for channels in cases:
        response = await http.put(url, json={"channels": channels}, headers=admin.headers)
        assert_problem(response, 422, "invalid-template")
    assert_problem(await http.get(url, headers=admin.headers), 404, "template-not-found")
    unknown_field = await http.put(url, json={"channels": {"inapp": {"title": "t", "body": "b", "x": 1}}},
                                   headers=admin.headers)
    assert unknown_field.status_code == 400


async def test_sandbox_and_escaping_at_render(http: httpx2.AsyncClient, admin: Account,
                                              service: NotificationsService) -> None:
    name = unique_name()
    await put_template(http, admin, name, {"email": {
        "subject": "{{ name }}", "text": "{{ name }} {{ obj.mro() if obj is defined else '' }}",
        "html": "<b>{{ name }}</b>"}})
    bus = service.node.bus
    payload = {"template": name, "channel": "email", "data": {"name": "<script>"}, "locale": "de-AT"}
    rendered = json.loads(await bus.request("notifications", "render", json.dumps(payload).encode()))
    assert rendered["subject"] == "<script>"
    assert rendered["html"] == "<b>&lt;script&gt;</b>"
    escape = {**payload, "data": {"name": "x", "obj": "s"}}
    with pytest.raises(GravityError) as unsafe:
        await bus.request("notifications", "render", json.dumps(escape).encode())
    assert unsafe.value.status == 422
    unknown = {**payload, "template": unique_name("none")}
    with pytest.raises(GravityError) as missing:
        await bus.request("notifications", "render", json.dumps(unknown).encode())
    assert (missing.value.status, missing.value.code) == (404, "template-not-found")


async def test_templates_need_an_admin(http: httpx2.AsyncClient, account: Account) -> None:
    url = f"/api/v1/notifications/templates/{unique_name()}"
    assert_problem(await http.put(url, json={"channels": INAPP}, headers=account.headers), 403, "forbidden")
    assert_problem(await http.get("/api/v1/notifications/templates/", headers=account.headers), 403)
    assert_problem(await http.get("/api/v1/notifications/templates/"), 401)
