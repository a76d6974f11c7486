"""Settings of the notifications service (`[service.notifications]`, `GRAVITY_SERVICE__NOTIFICATIONS__*`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class NotificationsSettings(BaseModel):
    """Delivery retries, the dead-letter threshold and the push provider."""

    max_attempts: int = Field(6, ge=1, le=50, description="deliveries of one job before it is dead-lettered")
    backoff_base: float = Field(2.0, gt=0, description="seconds before the first retry; doubles each time")
    backoff_max: float = Field(600.0, gt=0, description="longest wait between two attempts")
    ack_wait: float = Field(60.0, ge=1, description="seconds a worker may hold a job before JetStream resends it")
    push_provider: str = Field("webpush", description="the `gravity_push_provider` to use ('' turns push off)")
    push_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options of the push provider; for webpush: vapid_private_key (PEM or base64url), "
                    "vapid_subject (mailto: or https: URL), timeout. Without a key, one is derived from the "
                    "master key.",
    )
    inbox_page_max: int = Field(100, ge=1, le=500)
