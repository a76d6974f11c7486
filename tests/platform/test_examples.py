"""Every example runs against a real node."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.platform.conftest import PASSWORD, unique_email
from tests.platform.harness import RunningNode

EXAMPLES = Path(__file__).parents[2] / "examples"


async def test_quickstart(node: RunningNode) -> None:
    email = unique_email("quickstart")
    env = {**os.environ, "GRAVITY_BASE_URL": node.url, "GRAVITY_PASSWORD": PASSWORD}
    for expected in ("registered", "already has an account"):
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "quickstart.py"), email, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert expected in out.decode() and f"signed in as {email}" in out.decode()


def test_webhook_email_plugin_is_found_through_its_entry_point() -> None:
    """examples/webhook-email is installed and discovered; tests/platform/email/test_webhook_plugin.py sends
    mail through it."""
    from gravity_platform.kernel.plugins import discover

    _, hook_plugins = discover()
    assert "gravity_webhook_email.hooks" in [getattr(plugin, "__name__", "") for plugin in hook_plugins]
