"""`gravity files upload | ls | download | rm` as a user runs them, against the session node."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx2

from tests.platform.conftest import PASSWORD, new_account
from tests.platform.harness import RunningNode


async def gravity(env: dict[str, str], cwd: Path, *args: str, input: bytes | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gravity_cli", *args, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(input), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_upload_list_download_remove(node: RunningNode, http: httpx2.AsyncClient, tmp_path: Path) -> None:
    account = await new_account(http, "cli-files")
    env = {name: value for name, value in os.environ.items() if not name.startswith("GRAVITY_")}
    env |= {"GRAVITY_CREDENTIALS_FILE": str(tmp_path / "credentials.json"), "NO_COLOR": "1"}
    code, _, err = await gravity(env, tmp_path, "login", "--url", node.url, "--email", account.email,
                                 "--password-stdin", input=f"{PASSWORD}\n".encode())
    assert code == 0, err

    source = tmp_path / "photo.jpg"
    data = os.urandom(1_500_000)
    source.write_bytes(data)
    code, out, err = await gravity(env, tmp_path, "files", "upload", str(source), "--json")
    assert code == 0, err
    uploaded = json.loads(out)
    assert uploaded["name"] == "photo.jpg" and uploaded["size"] == len(data)

    code, out, err = await gravity(env, tmp_path, "files", "ls", "--json")
    assert code == 0, err
    assert [f["id"] for f in json.loads(out)] == [uploaded["id"]]
    code, out, _ = await gravity(env, tmp_path, "files", "ls")
    assert uploaded["id"] in out and "photo.jpg" in out

    target = tmp_path / "out"
    target.mkdir()
    code, _, err = await gravity(env, tmp_path, "files", "download", uploaded["id"], "-o", str(target))
    assert code == 0, err
    assert (target / "photo.jpg").read_bytes() == data
    code, _, err = await gravity(env, tmp_path, "files", "download", uploaded["id"], "-o", str(target))
    assert code != 0 and "exists" in err and "Traceback" not in err

    code, _, err = await gravity(env, tmp_path, "files", "rm", uploaded["id"])
    assert code == 0, err
    code, _, err = await gravity(env, tmp_path, "files", "rm", uploaded["id"])
    assert code != 0 and err.startswith("error:") and len(err.strip().splitlines()) == 1
