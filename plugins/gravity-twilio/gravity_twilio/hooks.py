"""The plugin's hook implementations (the `gravity.plugins` entry point names this module)."""

from __future__ import annotations

from typing import Any

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.services.sms.provider import SmsProvider
from gravity_twilio.options import TwilioOptions
from gravity_twilio.provider import NAME, TwilioProvider


@hookimpl
def gravity_sms_provider(name: str, options: dict[str, Any]) -> SmsProvider | None:
    """Provide the "twilio" SMS provider, configured by `[service.sms.provider_options]`."""
    if name != NAME:
        return None
    return TwilioProvider(TwilioOptions.parse(options))
