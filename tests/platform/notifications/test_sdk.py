"""`client.notifications` in the SDK (async and sync) against the node under test."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gravity_sdk import AsyncGravity, Gravity, NotFoundError, PermissionDeniedError, UnprocessableEntityError
from gravity_sdk.types import TemplateChannels
from gravity_sdk.types.notification import MessageContent
from tests.platform.conftest import PASSWORD, Account
from tests.platform.harness import RunningNode
from tests.platform.notifications.conftest import eventually, unique_name


async def test_async_client(node: RunningNode, admin: Account, account: Account) -> None:
    name = unique_name()
    async with AsyncGravity(base_url=node.url, access_token=admin.access_token) as operator, \
            AsyncGravity(base_url=node.url) as user:
        await user.auth.login(email=account.email, password=PASSWORD)
        channels = TemplateChannels(inapp=MessageContent(title="Hi {{ who }}", body="n={{ n }}"))
        saved = await operator.notifications.templates.put(name, channels=channels, category="news")
        assert saved.version == 1 and saved.channels.inapp is not None
        assert (await operator.notifications.templates.put(name, channels={"inapp": {"title": "t", "body": "b"}}))\
            .version == 2
        assert [t.version for t in await operator.notifications.templates.versions(name)] == [2, 1]
        assert (await operator.notifications.templates.get(name, version=1)).channels == channels
        with pytest.raises(UnprocessableEntityError):
            await operator.notifications.templates.put(unique_name(), channels={"inapp": {"title": "{%", "body": ""}})

        key = uuid.uuid4().hex
        result = await operator.notifications.send(template=name, user_id=account.id, idempotency_key=key)
        again = await operator.notifications.send(template=name, user_id=account.id, idempotency_key=key)
        sent = result.notifications[0]
        assert again.notifications[0].id == sent.id and sent.template_version == 2
        with pytest.raises(PermissionDeniedError):
            await user.notifications.send(template=name, user_id=account.id)

        await eventually(user.notifications.unread_count, lambda count: count == 1)
        status = await operator.notifications.get(sent.id)
        assert [(d.channel, d.status) for d in status.deliveries] == [("inapp", "delivered")]
        items = [item async for item in user.notifications.inbox(limit=1)]
        assert [i.title for i in items] == ["t"]
        assert (await user.notifications.mark_read(items[0].id)).read_at is not None
        assert await user.notifications.mark_all_read() == 0
        prefs = await user.notifications.update_preferences(channels={"sms": False}, locale="fr")
        assert prefs.channels == {"sms": False} and prefs.locale == "fr"
        assert (await user.notifications.preferences()).locale == "fr"
        with pytest.raises(UnprocessableEntityError):
            await user.notifications.update_preferences(phone="12")
        assert (await user.notifications.vapid_public_key() or "").startswith("B")
        await operator.notifications.templates.delete(name)
        with pytest.raises(NotFoundError):
            await operator.notifications.templates.get(name)


async def test_sync_client(node: RunningNode, admin: Account) -> None:
    def run() -> list[str]:
        with Gravity(base_url=node.url, access_token=admin.access_token) as client:
            name = unique_name()
            client.notifications.templates.put(name, channels={"push": {"title": "a", "body": "b"}})
            return [t.name for t in client.notifications.templates.list()]

    assert any(name.startswith("tpl-") for name in await asyncio.to_thread(run))
