"""Settings of the email service (`[service.email]` in gravity.toml, `GRAVITY_SERVICE__EMAIL__*` in the environment)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator


class EmailSettings(BaseModel):
    """Which transport delivers mail, and how hard the service tries.

    `transport` names a transport offered through the `gravity_email_transport` hook (`"smtp"` is built in);
    `transport_options` are handed to it as they are. Without a transport the service accepts no mail (503),
    so callers such as auth fall back to what they do without email. `catcher_dir` is set by the dev stack
    (the dev mail catcher's folder) and enables the admin-only `/api/v1/email/dev/messages` API."""

    transport: str | None = None
    transport_options: dict[str, Any] = Field(default_factory=dict)
    sender: str | None = Field(None, description="From address when the caller gives none (else the transport's)")
    max_attempts: int = Field(8, ge=1, le=100)
    retry_base_delay: float = Field(5.0, gt=0, description="seconds before the first retry; doubles each time")
    retry_max_delay: float = Field(3600.0, gt=0)
    send_timeout: float = Field(60.0, gt=0, description="seconds one delivery attempt may take")
    concurrency: int = Field(4, ge=1, le=64, description="deliveries in flight per node")
    poll_interval: float = Field(1.0, gt=0, description="seconds between looks for due retries")
    catcher_dir: str | None = None

    @field_validator("transport", "catcher_dir", "sender")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None
