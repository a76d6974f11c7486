"""X-Twilio-Signature: Twilio's documented vectors, tampering, and reading status callbacks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from gravity_twilio import TwilioOptions, TwilioProvider, compute_signature, validate_signature
from gravity_twilio.signature import url_variants

from gravity_platform.services.sms.provider import SmsCallbackError, SmsStatusUpdate
from tests.platform.sms.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

# Twilio's documented example (twilio.com/docs/usage/security and twilio-python's tests): auth token 12345.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_TOKEN = "12345"


def doc_params(caller: str) -> dict[str, str]:
    return {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller, "To": "+18005551212"}


@pytest.mark.parametrize(("caller", "expected"), [
    ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
    ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
])
def test_documented_vectors(caller: str, expected: str) -> None:
    params = doc_params(caller)
    assert compute_signature(DOC_TOKEN, DOC_URL, params) == expected
    assert compute_signature(DOC_TOKEN, DOC_URL, list(reversed(params.items()))) == expected, "order is irrelevant"
    assert validate_signature(DOC_TOKEN, DOC_URL, params, expected)


def test_tampering_is_detected() -> None:
    params = doc_params("+14158675310")
    good = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert not validate_signature(DOC_TOKEN, DOC_URL, {**params, "Digits": "1235"}, good)
    assert not validate_signature(DOC_TOKEN, DOC_URL, {**params, "Extra": ""}, good)
    assert not validate_signature(DOC_TOKEN, DOC_URL.replace("foo=1", "foo=2"), params, good)
    assert not validate_signature(DOC_TOKEN, "https://evil.example/myapp.php?foo=1&bar=2", params, good)
    assert not validate_signature("54321", DOC_URL, params, good)
    assert not validate_signature(DOC_TOKEN, DOC_URL, params, good.lower())
    assert not validate_signature(DOC_TOKEN, DOC_URL, params, None)
    assert not validate_signature(DOC_TOKEN, DOC_URL, params, "")


def test_default_ports_are_accepted_either_way() -> None:
    assert set(url_variants("https://a.example/x?y=1")) == {"https://a.example/x?y=1", "https://a.example:443/x?y=1"}
    assert set(url_variants("https://a.example:443/x")) == {"https://a.example:443/x", "https://a.example/x"}
    assert url_variants("https://a.example:8443/x") == ["https://a.example:8443/x"]
    params = doc_params("+14158675310")
    signed_with_port = compute_signature(DOC_TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
    assert validate_signature(DOC_TOKEN, DOC_URL, params, signed_with_port)


def provider(**overrides: Any) -> TwilioProvider:
    raw = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER, **overrides}
    return TwilioProvider(TwilioOptions.parse(raw))


URL = "https://api.example.com/api/v1/sms/callbacks/twilio"
FORM = "application/x-www-form-urlencoded"


def callback(status: str, *, url: str = URL, token: str = AUTH_TOKEN, **extra: str) -> tuple[dict[str, str], bytes]:
    params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "From": FROM_NUMBER, "To": "+14155552671",
              "MessageSid": "SM" + "ab" * 16, "MessageStatus": status, "SmsSid": "SM" + "ab" * 16,
              "SmsStatus": status, **extra}
    headers = {"content-type": f"{FORM}; charset=utf-8", "x-twilio-signature": compute_signature(token, url, params)}
    return headers, urlencode(params).encode()


async def test_status_callbacks_are_read() -> None:
    twilio = provider()
    sid = "SM" + "ab" * 16
    assert twilio.parse_status_callback(URL, *callback("delivered")) == SmsStatusUpdate(
        provider_message_id=sid, status="delivered")
    failed = twilio.parse_status_callback(URL, *callback("undelivered", ErrorCode="30003"))
    assert failed is not None
    assert (failed.status, failed.error) == ("failed", "Twilio error 30003: undelivered")
    assert twilio.parse_status_callback(URL, *callback("sending")) is None
    await twilio.close()


@pytest.mark.parametrize("tamper", ["signature", "body", "url", "token", "account", "content-type", "missing"])
async def test_unverifiable_callbacks_are_rejected(tamper: str) -> None:
    twilio = provider()
    headers, body = callback("delivered", token="other" if tamper == "token" else AUTH_TOKEN,
                             url="http://127.0.0.1:8080/api/v1/sms/callbacks/twilio" if tamper == "url" else URL)
    if tamper == "signature":
        headers["x-twilio-signature"] = "A" + headers["x-twilio-signature"][1:]
    elif tamper == "body":
        body = body.replace(b"delivered", b"failed")
    elif tamper == "account":
        headers, body = callback("delivered", AccountSid="AC" + "9" * 32)
    elif tamper == "content-type":
        headers["content-type"] = "application/json"
    elif tamper == "missing":
        del headers["x-twilio-signature"]
    with pytest.raises(SmsCallbackError):
        twilio.parse_status_callback(URL, headers, body)
    await twilio.close()


async def test_configured_callback_url_is_what_is_verified() -> None:
    configured = "https://hooks.example.com/twilio?tenant=1"
    twilio = provider(status_callback_url=configured)
    update = twilio.parse_status_callback(URL, *callback("delivered", url=configured))
    assert update is not None
    assert update.status == "delivered"
    with pytest.raises(SmsCallbackError):
        twilio.parse_status_callback(URL, *callback("delivered", url=URL))
    await twilio.close()


async def test_no_auth_token_means_no_callbacks() -> None:
    from tests.platform.sms.fake_twilio import API_KEY_SECRET, API_KEY_SID

    twilio = provider(auth_token=None, api_key_sid=API_KEY_SID, api_key_secret=API_KEY_SECRET)
    with pytest.raises(SmsCallbackError, match="auth_token"):
        twilio.parse_status_callback(URL, *callback("delivered"))
    await twilio.close()
