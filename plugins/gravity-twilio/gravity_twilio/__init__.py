"""Twilio SMS provider for Gravity: `[service.sms] provider = "twilio"`."""

from gravity_twilio.options import TwilioOptions
from gravity_twilio.provider import TwilioProvider
from gravity_twilio.signature import compute_signature, validate_signature

__all__ = ["TwilioOptions", "TwilioProvider", "compute_signature", "validate_signature"]
