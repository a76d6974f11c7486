"""How the sms service picks its provider and builds its callback URL, and the retry schedule (no stack needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from gravity_platform.kernel.errors import ServiceUnavailableError
from gravity_platform.kernel.node import build_node
from gravity_platform.kernel.plugins import PluginError
from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.sms.devoutbox import OutboxProvider
from gravity_platform.services.sms.plugin import SmsService
from gravity_platform.services.sms.schemas import SendSms
from gravity_platform.services.sms.worker import backoff


def sms_service(key_file: Path, environment: str = "dev", **sms: Any) -> SmsService:
    settings = GravitySettings(environment=environment, master_key_file=key_file, public_url="https://gravity.test/",
                               service={"sms": sms})
    return cast(SmsService, build_node(settings, ["sms"]).service("sms"))


def test_dev_defaults_to_the_outbox(key_file: Path) -> None:
    service = sms_service(key_file)
    assert service.provider_name == "outbox"
    provider = service.node.hooks.hook.gravity_sms_provider(name="outbox", options={})
    assert isinstance(provider, OutboxProvider)
    assert service.node.hooks.hook.gravity_sms_provider(name="carrier-pigeon", options={}) is None


async def test_production_without_a_provider_refuses_to_queue(key_file: Path) -> None:
    service = sms_service(key_file, environment="production")
    assert service.provider_name is None
    await service.start()
    assert service.provider is None
    with pytest.raises(ServiceUnavailableError, match="provider"):
        await service.logic.queue(SendSms(to="+14155552671", body="x"), actor="test")
    await service.stop()


async def test_an_unknown_provider_stops_the_start(key_file: Path) -> None:
    service = sms_service(key_file, provider="carrier-pigeon")
    with pytest.raises(PluginError, match="carrier-pigeon"):
        await service.start()


async def test_invalid_provider_options_stop_the_start(key_file: Path) -> None:
    service = sms_service(key_file, provider="twilio", provider_options={"account_sid": "nope"})
    with pytest.raises(ValueError, match="Twilio options"):
        await service.start()


def test_callback_url_comes_from_settings_not_requests(key_file: Path) -> None:
    assert sms_service(key_file).callback_url("twilio") == "https://gravity.test/api/v1/sms/callbacks/twilio"
    own = sms_service(key_file, public_url="https://edge.example.com/")
    assert own.callback_url("twilio") == "https://edge.example.com/api/v1/sms/callbacks/twilio"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    for attempt in range(1, 30):
        delay = backoff(attempt, 2.0, 900.0)
        ideal = min(900.0, 2.0 * 2 ** (attempt - 1))
        assert 0.75 * ideal <= delay <= ideal
    assert backoff(20, 2.0, 900.0) <= 900.0
