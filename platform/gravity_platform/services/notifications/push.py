"""How push notifications leave the platform: the provider interface (`gravity_push_provider` hook)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec


class PushMessage(msgspec.Struct, kw_only=True):
    """One push notification for one subscription (a browser's Web Push subscription, a device token ...)."""

    subscription: dict[str, Any]
    title: str
    body: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    ttl: int = 86400


class PushDeliveryError(RuntimeError):
    """Sending failed. `gone` says the subscription no longer exists and should be forgotten."""

    def __init__(self, message: str, *, permanent: bool = False, gone: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent or gone
        self.gone = gone


@runtime_checkable
class PushProvider(Protocol):
    """Something that delivers a PushMessage: Web Push (VAPID), FCM, APNs ..."""

    name: str

    async def send(self, message: PushMessage) -> None:
        """Deliver `message`; raise PushDeliveryError on failure."""
        ...

    async def close(self) -> None:
        """Release connections; called when the node stops."""
        ...
