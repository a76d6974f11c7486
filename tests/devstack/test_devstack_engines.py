"""The embedded engines really answer, keep their data, log, and refuse strangers."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

import asyncpg
import nats
import pytest
import valkey.exceptions
from valkey.asyncio import Valkey

from gravity_platform.devstack import (
    DevStack,
    PortInUseError,
    StackBusyError,
    StackEndpoints,
    StackPorts,
)


async def test_postgres_answers_sql(stack: StackEndpoints) -> None:
    connection = await asyncpg.connect(stack.postgres_dsn)
    try:
        assert await connection.fetchval("SELECT current_database()") == "gravity"
        await connection.execute("CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY, name text)")
        await connection.execute("INSERT INTO probe VALUES ($1, $2) ON CONFLICT DO NOTHING", 1, "größe")
        assert await connection.fetchval("SELECT name FROM probe WHERE id = $1", 1) == "größe"
        assert int(await connection.fetchval("SHOW server_version_num")) >= 180000
    finally:
        await connection.close()


async def test_nats_jetstream_stores_messages(stack: StackEndpoints) -> None:
    client = await nats.connect(stack.nats_url, allow_reconnect=False)
    try:
        jetstream = client.jetstream()
        await jetstream.add_stream(name="PROBE", subjects=["probe.>"])
        ack = await jetstream.publish("probe.one", b"hello")
        message = await jetstream.get_msg("PROBE", ack.seq)
        assert message.data == b"hello"
    finally:
        await client.close()


async def test_valkey_sets_and_gets(stack: StackEndpoints) -> None:
    client = Valkey.from_url(stack.valkey_url)
    try:
        await client.set("probe", "value")
        assert await client.get("probe") == b"value"
    finally:
        await client.aclose()


async def test_servers_listen_on_loopback_only(stack: StackEndpoints) -> None:
    ports = set(stack.ports.as_dict().values())
    listeners = _tcp_listeners()
    assert {port for _, port in listeners} >= ports
    assert {address for address, port in listeners if port in ports} == {"0100007F"}


async def test_wrong_credentials_are_refused(stack: StackEndpoints) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host="127.0.0.1", port=stack.postgres_port, user="postgres", password="wrong")
    for password in ("wrong", None):
        client = Valkey(host="127.0.0.1", port=stack.valkey_port, password=password)
        try:
            with pytest.raises((valkey.exceptions.AuthenticationError, valkey.exceptions.ResponseError)):
                await client.get("probe")
        finally:
            await client.aclose()
    assert "Authorization Violation" in await _nats_connect_reply(stack.nats_port, '"user":"gravity","pass":"x"')
    assert "Authorization Violation" in await _nats_connect_reply(stack.nats_port, "")


async def test_restart_keeps_data_logs_and_secrets(tmp_path: Path) -> None:
    root = tmp_path / ".gravity"
    began = time.perf_counter()
    async with DevStack(root, ports=StackPorts.free(), durable=True) as stack:
        first_start = time.perf_counter() - began
        await _write_everywhere(stack.endpoints)
    began = time.perf_counter()
    async with DevStack(root, ports=StackPorts.free(), durable=True) as stack:
        second_start = time.perf_counter() - began
        await _read_everywhere(stack.endpoints)
    print(f"durable start: empty {first_start:.2f} s, with data {second_start:.2f} s")
    assert second_start < 5
    for name in ("postgres", "nats", "valkey"):
        assert (root / "logs" / f"{name}.log").stat().st_size > 0
    assert stat.S_IMODE((root / "secrets").stat().st_mode) == 0o700
    secrets = sorted((root / "secrets").iterdir())
    assert {path.name for path in secrets} >= {"postgres-password", "nats-password", "valkey-password"}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in secrets)


async def test_port_in_use_is_named_and_nothing_is_left(tmp_path: Path, listening_port: int) -> None:
    ports = StackPorts.free()
    busy = StackPorts(postgres=ports.postgres, nats=ports.nats, valkey=listening_port)
    stack = DevStack(tmp_path, ports=busy, durable=False)
    with pytest.raises(PortInUseError, match=f"valkey port {listening_port} .* already in use"):
        await stack.start()
    assert stack.processes == {}
    async with DevStack(tmp_path, ports=StackPorts.free(), durable=False) as again:
        assert again.endpoints.postgres_port != listening_port


async def test_one_stack_per_folder(tmp_path: Path) -> None:
    async with DevStack(tmp_path, ports=StackPorts.free(), durable=False):
        with pytest.raises(StackBusyError):
            await DevStack(tmp_path, ports=StackPorts.free(), durable=False).start()


async def _write_everywhere(endpoints: StackEndpoints) -> None:
    connection = await asyncpg.connect(endpoints.postgres_dsn)
    try:
        await connection.execute("CREATE TABLE kept (note text)")
        await connection.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        await connection.close()
    client = Valkey.from_url(endpoints.valkey_url)
    try:
        await client.set("kept", "still here")
    finally:
        await client.aclose()
    bus = await nats.connect(endpoints.nats_url, allow_reconnect=False)
    try:
        await bus.jetstream().add_stream(name="KEPT", subjects=["kept"])
        await bus.jetstream().publish("kept", b"still here")
    finally:
        await bus.close()


async def _read_everywhere(endpoints: StackEndpoints) -> None:
    connection = await asyncpg.connect(endpoints.postgres_dsn)
    try:
        assert await connection.fetchval("SELECT note FROM kept") == "still here"
    finally:
        await connection.close()
    client = Valkey.from_url(endpoints.valkey_url)
    try:
        assert await client.get("kept") == b"still here"
    finally:
        await client.aclose()
    bus = await nats.connect(endpoints.nats_url, allow_reconnect=False)
    try:
        assert (await bus.jetstream().get_msg("KEPT", 1)).data == b"still here"
    finally:
        await bus.close()


async def _nats_connect_reply(port: int, credentials: str) -> str:
    """What nats-server answers a CONNECT (raw protocol: nats-py leaks its socket on refused logins)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        fields = ",".join(filter(None, ['"verbose":false', '"pedantic":false', credentials]))
        writer.write(f"CONNECT {{{fields}}}\r\nPING\r\n".encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 5)).decode()
    finally:
        writer.close()
        await writer.wait_closed()


def _tcp_listeners() -> set[tuple[str, int]]:
    """(hex address, port) of every listening TCP socket, IPv4 and IPv6."""
    listeners = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A":
                listeners.add((address, int(port, 16)))
    return listeners
