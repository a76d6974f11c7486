"""The Twilio provider against a local server speaking Twilio's REST API: requests, auth, error classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gravity_twilio import TwilioOptions, TwilioProvider

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.kernel.plugins import discover, hook_manager
from gravity_platform.services.sms.provider import (
    SmsDeliveryError,
    SmsMessage,
    SmsProvider,
    SmsStatusCallbacks,
)
from tests.platform.harness import free_port
from tests.platform.sms.fake_twilio import (
    ACCOUNT_SID,
    API_KEY_SECRET,
    API_KEY_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    INVALID_NUMBER,
    SERVICE_SID,
    FakeTwilio,
    fake_twilio,
)

TO = "+14155552671"
CALLBACK = "https://api.example.com/api/v1/sms/callbacks/twilio"


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        yield fake


def options(fake: FakeTwilio, **overrides: Any) -> TwilioOptions:
    raw: dict[str, Any] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER,
                           "base_url": fake.url, **overrides}
    return TwilioOptions.parse({k: v for k, v in raw.items() if v is not None})


async def send(provider: TwilioProvider, to: str = TO, **fields: Any) -> str | None:
    try:
        return await provider.send(SmsMessage(to=to, body=fields.pop("body", "Your code is 123456"), **fields))
    finally:
        await provider.close()


async def test_creates_the_message_as_twilio_expects(twilio: FakeTwilio) -> None:
    provider = TwilioProvider(options(twilio))
    assert isinstance(provider, SmsProvider)
    assert isinstance(provider, SmsStatusCallbacks)
    to = "+14155552001"
    sid = await send(provider, to, status_callback=CALLBACK, id="ours")
    assert sid is not None
    assert sid.startswith("SM")
    [request] = twilio.sent_to(to)
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form == {"To": to, "From": FROM_NUMBER, "Body": "Your code is 123456", "StatusCallback": CALLBACK}


async def test_api_key_auth_and_messaging_service(twilio: FakeTwilio) -> None:
    provider = TwilioProvider(options(twilio, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET,
                                      from_number=None, messaging_service_sid=SERVICE_SID))
    to = "+14155552002"
    assert (await send(provider, to) or "").startswith("SM")
    [request] = twilio.sent_to(to)
    assert request.form == {"To": to, "Body": "Your code is 123456", "MessagingServiceSid": SERVICE_SID}


async def test_configured_callback_url_wins_and_needs_the_auth_token(twilio: FakeTwilio) -> None:
    override = "https://hooks.example.com/twilio?tenant=1"
    await send(TwilioProvider(options(twilio, status_callback_url=override)), "+14155552003",
               status_callback=CALLBACK)
    assert twilio.sent_to("+14155552003")[0].form["StatusCallback"] == override
    keyed = options(twilio, auth_token=None, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
    await send(TwilioProvider(keyed), "+14155552004", status_callback=CALLBACK)
    assert "StatusCallback" not in twilio.sent_to("+14155552004")[0].form, "unverifiable callbacks are not asked for"


async def test_wrong_credentials_are_permanent(twilio: FakeTwilio) -> None:
    with pytest.raises(SmsDeliveryError, match="20003") as raised:
        await send(TwilioProvider(options(twilio, auth_token="wrong")))
    assert raised.value.permanent


async def test_invalid_number_is_permanent(twilio: FakeTwilio) -> None:
    with pytest.raises(SmsDeliveryError, match="21211") as raised:
        await send(TwilioProvider(options(twilio)), INVALID_NUMBER)
    assert raised.value.permanent
    assert "HTTP 400" in str(raised.value)


@pytest.mark.parametrize(("status", "code"), [(503, "20503"), (429, "20429"), (500, "20500")])
async def test_overload_and_outages_are_transient(twilio: FakeTwilio, status: int, code: str) -> None:
    to = f"+1415555{status}9"
    twilio.fail_next(to, status)
    with pytest.raises(SmsDeliveryError, match=code) as raised:
        await send(TwilioProvider(options(twilio)), to)
    assert not raised.value.permanent
    assert (await send(TwilioProvider(options(twilio)), to) or "").startswith("SM"), "the next try goes through"


async def test_unreachable_twilio_is_transient() -> None:
    provider = TwilioProvider(TwilioOptions.parse({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                                                   "from_number": FROM_NUMBER,
                                                   "base_url": f"http://127.0.0.1:{free_port()}"}))
    with pytest.raises(SmsDeliveryError, match="could not be reached") as raised:
        await send(provider)
    assert not raised.value.permanent


@pytest.mark.parametrize("bad", [
    {"account_sid": "nope"},
    {"auth_token": None},
    {"from_number": None},
    {"from_number": "0044 20"},
    {"api_key_sid": API_KEY_SID},
    {"base_url": "ftp://example.com"},
    {"unknown": 1},
])
def test_options_are_validated(bad: dict[str, Any]) -> None:
    raw = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER, **bad}
    with pytest.raises(ValueError, match=r"Twilio options|needed|go together") as raised:
        TwilioOptions.parse({k: v for k, v in raw.items() if v is not None})
    assert AUTH_TOKEN not in str(raised.value)


async def test_the_plugin_is_found_through_its_entry_point(twilio: FakeTwilio) -> None:
    _, hook_plugins = discover(["twilio"])
    assert [plugin.__name__ for plugin in hook_plugins] == ["gravity_twilio.hooks"]  # type: ignore[attr-defined]

    class Other:
        @hookimpl
        def gravity_sms_provider(self, name: str, options: dict[str, Any]) -> None:
            return None

    manager = hook_manager([*hook_plugins, Other()], [])
    assert manager.hook.gravity_sms_provider(name="other", options={}) is None
    provider = manager.hook.gravity_sms_provider(name="twilio", options={
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER, "base_url": twilio.url})
    assert isinstance(provider, TwilioProvider)
    await provider.close()
    with pytest.raises(ValueError, match="Twilio options"):
        manager.hook.gravity_sms_provider(name="twilio", options={"account_sid": ACCOUNT_SID})
