"""Settings of the sms service (`[service.sms]` in gravity.toml, `GRAVITY_SERVICE__SMS__*` in the environment)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SmsSettings(BaseModel):
    """The provider, retries and the public URL of the status callbacks."""

    provider: str | None = Field(None, description='provider name; unset means "outbox" in dev, none in production')
    provider_options: dict[str, Any] = Field(default_factory=dict, description="handed to the provider")
    sender: str | None = Field(None, description="default sender number (E.164) when the provider needs one")
    public_url: str | None = Field(None, description="public base URL of the callbacks (default: the node's)")
    default_region: str | None = Field(None, min_length=2, max_length=2, description="for national numbers")
    max_body_length: int = Field(1600, ge=1, le=10_000)
    max_attempts: int = Field(8, ge=1, le=50)
    retry_base: float = Field(2.0, gt=0, description="seconds before the first retry; doubles after each")
    retry_max: float = Field(900.0, gt=0, description="longest wait between two attempts")
    send_timeout: float = Field(30.0, gt=0)
    poll_interval: float = Field(1.0, gt=0, description="how often a worker looks for due messages")
    batch: int = Field(20, ge=1, le=500)
    adopt_after: float = Field(300.0, gt=0, description="seconds before a message queued for another provider "
                                                        "(e.g. before a provider change) is taken over")

    def provider_name(self, environment: str) -> str | None:
        """The provider in use: the configured one, else the dev outbox in dev (None in production)."""
        if self.provider:
            return self.provider
        return "outbox" if environment == "dev" else None
