"""The supervisor process: state file, signals, crashes, errors, and the CLI's library functions."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from pathlib import Path

import asyncpg
import pytest

from gravity_platform.devstack import (
    StackError,
    StackPorts,
    StackState,
    launch_supervisor,
    load_state,
    read_state,
    reset,
    stop_supervisor,
)
from gravity_platform.devstack.pids import is_alive, start_ticks


async def _start_supervisor(
    root: Path, argv: list[str], env: dict[str, str], *extra: str
) -> tuple[asyncio.subprocess.Process, StackState]:
    command = [*argv, "--root", str(root), "--ports", StackPorts.free().as_arg(), "--no-durable"]
    if extra:
        command += ["--", *extra]
    process = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    for _ in range(1500):
        state = read_state(root)
        if state is not None and state.phase == "ready":
            return process, state
        if process.returncode is not None:
            break
        await asyncio.sleep(0.01)
    process.kill()
    _, stderr = await process.communicate()
    raise AssertionError(f"supervisor not ready: {stderr.decode()}")


async def test_sigkill_of_the_supervisor_leaves_no_server(
    tmp_path: Path, supervisor_argv: list[str], supervisor_env: dict[str, str]
) -> None:
    process, state = await _start_supervisor(tmp_path, supervisor_argv, supervisor_env, "sleep", "600")
    assert set(state.processes) == {"postgres", "nats", "valkey", "mail", "node"}
    children = {name: (pid, start_ticks(pid)) for name, pid in state.processes.items()}
    assert all(ticks is not None for _, ticks in children.values())
    process.kill()
    await process.communicate()
    for _ in range(500):
        survivors = [name for name, (pid, ticks) in children.items() if is_alive(pid, ticks)]
        if not survivors:
            break
        await asyncio.sleep(0.01)
    assert survivors == []
    assert read_state(tmp_path) is None


async def test_sigterm_stops_everything_and_removes_the_state(
    tmp_path: Path, supervisor_argv: list[str], supervisor_env: dict[str, str]
) -> None:
    process, state = await _start_supervisor(tmp_path, supervisor_argv, supervisor_env)
    assert stat.S_IMODE((tmp_path / "stack.json").stat().st_mode) == 0o600
    document = json.loads((tmp_path / "stack.json").read_text())
    assert document["state"] == "ready"
    assert document["pid"] == process.pid
    assert state.endpoints is not None
    connection = await asyncpg.connect(state.endpoints.postgres_dsn)
    await connection.close()
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0
    assert not (tmp_path / "stack.json").exists()
    assert not any(is_alive(pid) for pid in state.processes.values())


async def test_a_crashed_server_stops_the_supervisor(
    tmp_path: Path, supervisor_argv: list[str], supervisor_env: dict[str, str]
) -> None:
    process, state = await _start_supervisor(tmp_path, supervisor_argv, supervisor_env)
    os.kill(state.processes["valkey"], signal.SIGKILL)
    _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 1
    assert "valkey exited on its own" in stderr.decode()
    assert not any(is_alive(pid) for pid in state.processes.values())


async def test_port_in_use_exits_with_a_one_line_error(
    tmp_path: Path, supervisor_argv: list[str], supervisor_env: dict[str, str], listening_port: int
) -> None:
    ports = StackPorts.free()
    busy = StackPorts(postgres=listening_port, nats=ports.nats, valkey=ports.valkey)
    command = [*supervisor_argv, "--root", str(tmp_path), "--ports", busy.as_arg()]
    process = await asyncio.create_subprocess_exec(*command, env=supervisor_env, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    last_line = stderr.decode().strip().splitlines()[-1]
    assert last_line.startswith("gravity devstack: error: postgres port")
    assert f"{listening_port} on 127.0.0.1 is already in use" in last_line
    failed = load_state(tmp_path)
    assert failed is not None
    assert failed.phase == "failed"
    assert failed.error is not None
    assert read_state(tmp_path) is None


async def test_launch_stop_and_reset(tmp_path: Path) -> None:
    root = tmp_path / ".gravity"
    state = await asyncio.to_thread(launch_supervisor, root, ports=StackPorts.free(), durable=False)
    assert state.phase == "ready"
    assert state.endpoints is not None
    assert read_state(root) == state
    with pytest.raises(StackError, match="already running"):
        await asyncio.to_thread(launch_supervisor, root, ports=StackPorts.free(), durable=False)
    assert await asyncio.to_thread(stop_supervisor, root) is True
    assert read_state(root) is None
    assert not any(is_alive(pid) for pid in state.processes.values())
    assert await asyncio.to_thread(stop_supervisor, root) is False
    assert (root / "data" / "postgres" / "PG_VERSION").exists()
    await asyncio.to_thread(reset, root)
    assert not (root / "data").exists()
    assert not (root / "secrets").exists()


async def test_launch_reports_the_failure(tmp_path: Path, listening_port: int) -> None:
    ports = StackPorts.free()
    busy = StackPorts(postgres=ports.postgres, nats=listening_port, valkey=ports.valkey)
    with pytest.raises(StackError, match=f"nats port {listening_port} on 127.0.0.1 is already in use"):
        await asyncio.to_thread(launch_supervisor, tmp_path, ports=busy, durable=False)
