"""Extra managed processes, and PostgreSQL's unprivileged user when the tests run as root."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gravity_platform.devstack import DevStack, StackPorts

_REPORT_ON_TERM = """
import signal, socket, sys, time
def on_term(*_):
    with socket.socket() as sock:
        up = sock.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0
    print("terminated; postgres up:", up, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(60)
"""


async def test_spawned_process_logs_gets_env_and_stops_before_the_engines(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, ports=StackPorts.free(), durable=False)
    endpoints = await stack.start()
    try:
        argv = [sys.executable, "-c", _REPORT_ON_TERM, str(endpoints.postgres_port)]
        process = await stack.spawn("node", argv, env={"GRAVITY_PROBE": "1"})
        assert stack.processes["node"] is process
        await _wait_for_text(process.log_path, "ready")
        assert "GRAVITY_PROBE=1" in _proc_file(process.pid, "environ").split("\0")
    finally:
        await stack.stop()
    assert process.returncode == 0
    assert "terminated; postgres up: True" in (tmp_path / "logs" / "node.log").read_text()


async def test_process_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    async with DevStack(tmp_path, ports=StackPorts.free(), durable=False) as stack:
        script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        script += "time.sleep(60)"
        process = await stack.spawn("stubborn", [sys.executable, "-c", script])
        await _wait_for_text(process.log_path, "ready")
        assert await process.stop(timeout=0.3) == -signal.SIGKILL


async def test_spawn_rejects_duplicate_names(tmp_path: Path) -> None:
    async with DevStack(tmp_path, ports=StackPorts.free(), durable=False) as stack:
        with pytest.raises(ValueError, match="taken"):
            await stack.spawn("postgres", ["true"])


@pytest.fixture
def private_parent() -> Iterator[Path]:
    """A fresh ``mktemp -d`` folder (mode 0700), removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="gravity-private-"))
    try:
        yield parent
    finally:
        shutil.rmtree(parent)


@pytest.fixture
def reachable_parent(private_parent: Path) -> Path:
    """A fresh folder that anyone may traverse."""
    private_parent.chmod(0o755)
    return private_parent


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only a root supervisor switches PostgreSQL's user")


@needs_root
async def test_as_root_under_a_private_folder(private_parent: Path) -> None:
    before = _owner_and_mode(private_parent)
    root = private_parent / "project" / ".gravity"
    async with DevStack(root, ports=StackPorts.free(), durable=False) as stack:
        await _query(stack.endpoints.postgres_dsn)
        status = _proc_status(stack.processes["postgres"].pid)
    assert _owner_and_mode(private_parent) == before == (0, 0o700)
    assert status["Uid"].split()[1] != "0"
    assert int(status["CapEff"], 16) == 1 << 2  # CAP_DAC_READ_SEARCH only
    assert _owner_and_mode(root / "data" / "postgres")[0] != 0
    assert "CAP_DAC_READ_SEARCH" in _read(root / "logs" / "postgres.log")


@needs_root
async def test_as_root_without_capability_when_folders_are_reachable(reachable_parent: Path) -> None:
    async with DevStack(reachable_parent / ".gravity", ports=StackPorts.free(), durable=False) as stack:
        await _query(stack.endpoints.postgres_dsn)
        status = _proc_status(stack.processes["postgres"].pid)
    assert status["Uid"].split()[1] != "0"
    assert int(status["CapEff"], 16) == 0
    assert status["NoNewPrivs"] == "1"


async def _query(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()


def _proc_file(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _proc_status(pid: int) -> dict[str, str]:
    lines = _proc_file(pid, "status").splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _owner_and_mode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, stat.S_IMODE(info.st_mode)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def _wait_for_text(path: Path, text: str) -> None:
    for _ in range(500):
        if text in _read(path).splitlines():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no line {text!r} in {path}")
