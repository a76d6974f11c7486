"""`gravity serve` as a real process: it serves, and on SIGTERM it drains as the contract says."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx2

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.harness import free_port


async def _wait_ready(client: httpx2.AsyncClient, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.returncode is None, "the node exited while starting"
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the node never became ready")


async def test_sigterm_turns_readyz_503_then_exits_cleanly(stack: StackEndpoints, key_file: Path,
                                                          settings: GravitySettings, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "GRAVITY_DATABASE__URL": stack.postgres_dsn, "GRAVITY_NATS__URL": stack.nats_url,
           "GRAVITY_VALKEY__URL": stack.valkey_url, "GRAVITY_MASTER_KEY_FILE": str(key_file),
           "GRAVITY_NODE_NAME": "drain-test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gravity_cli", "serve", "--port", str(port), "--drain-delay", "1.5",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        try:
            await _wait_ready(client, process)
            assert (await client.get("/.well-known/jwks.json")).status_code == 200
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            draining = await client.get("/readyz")
            assert draining.status_code == 503 and draining.json()["checks"]["accepting"] is False
            assert (await client.get("/healthz")).status_code == 200, "still alive while draining"
            assert (await client.get("/.well-known/jwks.json")).status_code == 200, "in-flight work still served"
            code = await asyncio.wait_for(process.wait(), timeout=20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    stderr = (await process.stderr.read()).decode() if process.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
