"""Per-user channel preferences, contact points and Web Push subscriptions."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import phonenumbers

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import NotFoundError, UnprocessableError
from gravity_platform.services.notifications.schemas import (
    Preferences,
    PreferencesUpdate,
    PushSubscription,
    PushSubscriptionCreate,
)
from gravity_platform.services.notifications.tables import DB, AuditLog, InboxItem, Notification, Preference
from gravity_platform.services.notifications.tables import PushSubscription as SubscriptionRow


class InvalidPhoneNumberError(UnprocessableError):
    code, title = "invalid-phone-number", "Invalid phone number"


def e164(phone: str) -> str:
    """A phone number in E.164 form; 422 unless it is a valid international number."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumberError("The phone number must be in international form, e.g. +33612345678") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumberError("The phone number is not valid")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def allows(preferences: Preferences, channel: str, category: str) -> bool:
    """Whether the user accepts `channel` for `category` (a category override beats the channel switch)."""
    override = preferences.categories.get(category, {}).get(channel)
    if override is not None:
        return override
    return preferences.channels.get(channel, True)


class Contacts:
    """Operations on preferences, contact points and push subscriptions."""

    async def get(self, user_id: str) -> Preferences:
        """A user's preferences (defaults when they never set any)."""
        row = await Preference.select().where(Preference.user_id == user_id).first()
        if row is None:
            return Preferences(channels={}, categories={}, locale=None, phone=None, email=None)
        return Preferences(channels=_jsonb(row["channels"]), categories=_jsonb(row["categories"]),
                           locale=row["locale"], phone=row["phone"], email=row["email"])

    async def update(self, user_id: str, change: PreferencesUpdate) -> Preferences:
        """Apply a partial update."""
        current = await self.get(user_id)
        values: dict[str, Any] = {
            "channels": {**current.channels, **change.channels} if change.channels is not msgspec.UNSET
            else current.channels,
            "categories": current.categories if change.categories is msgspec.UNSET else change.categories,
            "locale": current.locale if change.locale is msgspec.UNSET else change.locale,
            "phone": current.phone,
        }
        if change.phone is not msgspec.UNSET:
            values["phone"] = None if change.phone is None else e164(change.phone)
        async with DB.engine.transaction():
            await self._upsert(user_id, values)
            if values["phone"] != current.phone:
                await audit.record(AuditLog, "phone_changed", actor=user_id, target=user_id,
                                   removed=values["phone"] is None)
        return await self.get(user_id)

    async def _upsert(self, user_id: str, values: dict[str, Any]) -> None:
        columns = {key: json.dumps(value) if key in ("channels", "categories") else value
                   for key, value in values.items()}
        assignments = ", ".join(f"{key} = EXCLUDED.{key}" for key in columns)
        placeholders = ", ".join("{}" for _ in columns)
        await Preference.raw(
            f"INSERT INTO preference (user_id, {', '.join(columns)}, updated_at) VALUES ({{}}, {placeholders}, now()) "  # noqa: S608
            f"ON CONFLICT (user_id) DO UPDATE SET {assignments}, updated_at = now()",
            user_id, *columns.values())

    async def learn_email(self, user_id: str, email: str) -> None:
        """Record the address of a user's account (told by the auth service's `user_registered` event)."""
        await Preference.raw(
            "INSERT INTO preference (user_id, email) VALUES ({}, {}) "
            "ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, updated_at = now()", user_id, email)

    async def subscriptions(self, user_id: str) -> list[PushSubscription]:
        """A user's push subscriptions."""
        rows = await SubscriptionRow.select().where(SubscriptionRow.user_id == user_id).order_by(
            SubscriptionRow.created_at)
        return [PushSubscription(id=str(r["id"]), endpoint=r["endpoint"], created_at=r["created_at"],
                                 user_agent=r["user_agent"]) for r in rows]

    async def subscription_targets(self, user_id: str) -> list[dict[str, Any]]:
        """A user's subscriptions as push providers take them: `{"id", "endpoint", "keys"}`."""
        rows = await SubscriptionRow.select().where(SubscriptionRow.user_id == user_id)
        return [{"id": str(r["id"]), "endpoint": r["endpoint"], "keys": _jsonb(r["keys"])} for r in rows]

    async def subscribe(self, user_id: str, subscription: PushSubscriptionCreate) -> PushSubscription:
        """Store a subscription (the same endpoint again replaces the old one, whoever owned it)."""
        keys = json.dumps(msgspec.to_builtins(subscription.keys))
        async with DB.engine.transaction():
            rows = await self._store_subscription(user_id, subscription, keys)
            await audit.record(AuditLog, "push_subscribed", actor=user_id, target=str(rows[0]["id"]))
        row = rows[0]
        return PushSubscription(id=str(row["id"]), endpoint=row["endpoint"], created_at=row["created_at"],
                                user_agent=row["user_agent"])

    @staticmethod
    async def _store_subscription(user_id: str, subscription: PushSubscriptionCreate,
                                  keys: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await SubscriptionRow.raw(
            "INSERT INTO push_subscription (id, user_id, endpoint, keys, user_agent) VALUES ({}, {}, {}, {}, {}) "
            "ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, keys = EXCLUDED.keys, "
            "user_agent = EXCLUDED.user_agent RETURNING id, endpoint, created_at, user_agent",
            str(uuid.uuid4()), user_id, subscription.endpoint, keys, subscription.user_agent)
        return rows

    async def unsubscribe(self, user_id: str, subscription_id: str) -> None:
        """Forget one of the user's subscriptions; 404 when it is not theirs."""
        async with DB.engine.transaction():
            deleted = await SubscriptionRow.delete().where(
                (SubscriptionRow.id == subscription_id) & (SubscriptionRow.user_id == user_id)).returning(
                SubscriptionRow.id)
            if not deleted:
                raise NotFoundError("No such push subscription")
            await audit.record(AuditLog, "push_unsubscribed", actor=user_id, target=subscription_id)

    async def forget_subscription(self, subscription_id: str) -> None:
        """Drop a subscription the push service says is gone (404/410)."""
        await SubscriptionRow.delete().where(SubscriptionRow.id == subscription_id)

    async def erase_user(self, user_id: str) -> None:
        """Delete everything kept about a user (their account was deleted)."""
        async with DB.engine.transaction():
            await Preference.delete().where(Preference.user_id == user_id)
            await SubscriptionRow.delete().where(SubscriptionRow.user_id == user_id)
            await InboxItem.delete().where(InboxItem.user_id == user_id)
            await Notification.delete().where(Notification.user_id == user_id)
            await audit.record(AuditLog, "user_data_erased", actor="users", target=user_id,
                               at=datetime.now(UTC).isoformat())
