"""End to end with the Twilio plugin: a node whose sms provider is "twilio", pointed at a local fake Twilio.

Messages go out through the fake with the right account, credentials and callback URL; transient answers
(503, 429) are retried with backoff, permanent ones (21211) fail at once; a status callback signed over the
configured public URL marks the message delivered, one signed over anything else is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from gravity_twilio import compute_signature

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode, make_settings, running_node
from tests.platform.sms.conftest import sms_event, unique_number, wait_status
from tests.platform.sms.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, INVALID_NUMBER, FakeTwilio, fake_twilio
from tests.platform.support import assert_problem

PUBLIC_URL = "https://sms.gravity.test"
CALLBACK_URL = f"{PUBLIC_URL}/api/v1/sms/callbacks/twilio"


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


@pytest.fixture(scope="module")
async def twilio_node(stack: StackEndpoints, key_file: Path, node: RunningNode,
                      twilio: FakeTwilio) -> AsyncIterator[RunningNode]:
    """A second node hosting only sms, with the Twilio provider (auth and users stay on the session node)."""
    settings = make_settings(stack, key_file, service={"sms": {
        "provider": "twilio", "public_url": PUBLIC_URL, "retry_base": 0.05, "retry_max": 0.2, "poll_interval": 0.2,
        "provider_options": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER,
                             "base_url": twilio.url},
    }})
    async with running_node(settings, ["sms"]) as running:
        yield running


@pytest.fixture
async def sms_http(twilio_node: RunningNode) -> AsyncIterator[httpx2.AsyncClient]:
    async with twilio_node.client() as client:
        yield client


async def send(http: httpx2.AsyncClient, admin: Account, to: str, body: str = "hello from gravity") -> str:
    response = await http.post("/api/v1/sms/send", headers=admin.headers, json={"to": to, "body": body})
    assert response.status_code == 202, response.text
    sms_id: str = response.json()["id"]
    return sms_id


async def post_callback(http: httpx2.AsyncClient, params: dict[str, str], *, url: str = CALLBACK_URL,
                        token: str = AUTH_TOKEN) -> httpx2.Response:
    signature = compute_signature(token, url, params)
    return await http.post("/api/v1/sms/callbacks/twilio", content=urlencode(params).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def status_params(sid: str, to: str, status: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "From": FROM_NUMBER, "To": to,
            "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status, **extra}


async def test_sent_through_twilio_and_delivered_by_a_signed_callback(
        sms_http: httpx2.AsyncClient, admin: Account, twilio: FakeTwilio, stack: StackEndpoints) -> None:
    to = unique_number()
    sms_id = await send(sms_http, admin, to)
    sent = await wait_status(sms_http, sms_id, admin.headers, "sent")
    [request] = twilio.sent_to(to)
    assert request.form == {"To": to, "From": FROM_NUMBER, "Body": "hello from gravity",
                            "StatusCallback": CALLBACK_URL}
    sid = sent["provider_message_id"]
    assert sid.startswith("SM")
    assert sent["provider"] == "twilio"

    forged_by_host = await post_callback(sms_http, status_params(sid, to, "delivered"),
                                         url=f"{sms_http.base_url}/api/v1/sms/callbacks/twilio")
    assert_problem(forged_by_host, 403, "forbidden")
    wrong_token = await post_callback(sms_http, status_params(sid, to, "delivered"), token="not-the-token")
    assert_problem(wrong_token, 403, "forbidden")
    assert (await wait_status(sms_http, sms_id, admin.headers, "sent"))["delivered_at"] is None

    assert (await post_callback(sms_http, status_params(sid, to, "sent"))).status_code == 204
    delivered = await post_callback(sms_http, status_params(sid, to, "delivered"))
    assert delivered.status_code == 204, delivered.text
    body = await wait_status(sms_http, sms_id, admin.headers, "delivered")
    assert body["delivered_at"] is not None
    event = await sms_event(stack.nats_url, "delivered", sms_id)
    assert event["data"]["error"] is None
    late_failure = await post_callback(sms_http, status_params(sid, to, "undelivered", ErrorCode="30003"))
    assert late_failure.status_code == 204
    assert (await wait_status(sms_http, sms_id, admin.headers, "delivered"))["error"] is None


async def test_undelivered_callback_fails_the_message(
        sms_http: httpx2.AsyncClient, admin: Account, stack: StackEndpoints) -> None:
    to = unique_number()
    sms_id = await send(sms_http, admin, to)
    sid = (await wait_status(sms_http, sms_id, admin.headers, "sent"))["provider_message_id"]
    response = await post_callback(sms_http, status_params(sid, to, "undelivered", ErrorCode="30003"))
    assert response.status_code == 204, response.text
    failed = await wait_status(sms_http, sms_id, admin.headers, "failed")
    assert "30003" in failed["error"]
    event = await sms_event(stack.nats_url, "failed", sms_id)
    assert "30003" in event["data"]["error"]
    unknown = await post_callback(sms_http, status_params("SM" + "0" * 32, to, "delivered"))
    assert_problem(unknown, 404, "not-found")


async def test_transient_answers_are_retried(sms_http: httpx2.AsyncClient, admin: Account, twilio: FakeTwilio) -> None:
    to = unique_number()
    twilio.fail_next(to, 503, 429)
    sms_id = await send(sms_http, admin, to)
    sent = await wait_status(sms_http, sms_id, admin.headers, "sent")
    assert sent["attempts"] == 3
    assert sent["error"] is None
    assert len(twilio.sent_to(to)) == 3


async def test_permanent_answers_fail_at_once(
        sms_http: httpx2.AsyncClient, admin: Account, twilio: FakeTwilio, stack: StackEndpoints) -> None:
    sms_id = await send(sms_http, admin, INVALID_NUMBER)
    failed = await wait_status(sms_http, sms_id, admin.headers, "failed")
    assert failed["attempts"] == 1
    assert "21211" in failed["error"]
    event = await sms_event(stack.nats_url, "failed", sms_id)
    assert "21211" in event["data"]["error"]


async def test_retries_give_up_after_max_attempts(sms_http: httpx2.AsyncClient, admin: Account,
                                                  twilio: FakeTwilio, twilio_node: RunningNode) -> None:
    to = unique_number()
    attempts = twilio_node.node.service("sms").settings.max_attempts  # type: ignore[attr-defined]
    twilio.fail_next(to, *[503] * attempts)
    sms_id = await send(sms_http, admin, to)
    failed = await wait_status(sms_http, sms_id, admin.headers, "failed")
    assert failed["attempts"] == attempts
    assert "20503" in failed["error"]
    assert len(twilio.sent_to(to)) == attempts


async def test_the_dev_outbox_is_not_there_with_twilio(sms_http: httpx2.AsyncClient, admin: Account) -> None:
    assert_problem(await sms_http.get("/api/v1/sms/dev/outbox", headers=admin.headers), 404, "not-found")
