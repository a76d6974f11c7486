"""`gravity dev sms`: the dev outbox read straight from the stack's database, as a table, as JSON, one message."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx2
from typer.testing import CliRunner, Result

from gravity_cli.cli import cli
from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode, free_port
from tests.platform.sms.conftest import unique_number, wait_status


async def gravity(stack_dsn: str, key_file: Path, root: Path, *args: str) -> Result:
    """Run `gravity ARGS` in a thread (the CLI runs its own event loop) against the test stack's database."""
    config = root / "gravity.toml"
    config.write_text("# nothing: the environment says it all\n")
    env = {"GRAVITY_DATABASE__URL": stack_dsn, "GRAVITY_MASTER_KEY_FILE": str(key_file), "NO_COLOR": "1",
           "GRAVITY_CONFIG": str(config)}
    return await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--root", str(root)], env=env,
                                   catch_exceptions=False)


async def test_dev_sms_lists_and_shows_the_outbox(node: RunningNode, http: httpx2.AsyncClient, admin: Account,
                                                  stack: StackEndpoints, key_file: Path, tmp_path: Path) -> None:
    number = unique_number()
    ids = []
    for body in ("first message", "second message\nwith two lines"):
        answer = await node.node.bus.request("sms", "send", json.dumps({"to": number, "body": body}).encode())
        ids.append(json.loads(answer)["id"])
        await wait_status(http, ids[-1], admin.headers, "sent")

    listed = await gravity(stack.postgres_dsn, key_file, tmp_path, "dev", "sms", "--json", "-n", "500")
    assert listed.exit_code == 0, listed.output
    mine = [entry for entry in json.loads(listed.stdout) if entry["to"] == number]
    assert [entry["body"] for entry in mine] == ["second message\nwith two lines", "first message"]
    assert [entry["message_id"] for entry in mine] == list(reversed(ids))

    table = await gravity(stack.postgres_dsn, key_file, tmp_path, "dev", "sms", "list", "-n", "500")
    assert table.exit_code == 0, table.output
    assert number in table.stdout
    assert "second message with two lines" in table.stdout

    shown = await gravity(stack.postgres_dsn, key_file, tmp_path, "dev", "sms", "show", ids[1][:18])
    assert shown.exit_code == 0, shown.output
    assert "second message\nwith two lines" in shown.stdout
    assert f"to:       {number}" in shown.stdout
    as_json = await gravity(stack.postgres_dsn, key_file, tmp_path, "dev", "sms", "show", mine[0]["id"], "--json")
    assert json.loads(as_json.stdout)["message_id"] == ids[1]

    missing = await gravity(stack.postgres_dsn, key_file, tmp_path, "dev", "sms", "show", "ffffffff")
    assert missing.exit_code == 1
    assert "No such outbox entry" in missing.stderr


async def test_dev_sms_without_a_stack_is_a_one_line_error(key_file: Path, tmp_path: Path) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/gravity"
    result = await gravity(dsn, key_file, tmp_path, "dev", "sms")
    assert result.exit_code == 1
    assert "is the dev stack running?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
