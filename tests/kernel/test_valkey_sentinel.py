"""Nodes follow Valkey Sentinel: a real primary, replica and sentinel on loopback, failovers, and a client whose
sentinels are all down. Authentication as in production: requirepass, masterauth, auth-pass, sentinel-pass."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from urllib.parse import quote

import pydantic
import pytest
import valkey.asyncio as valkey

from gravity_platform.devstack.binaries import valkey_server_binary
from gravity_platform.devstack.process import ManagedProcess, last_log_line, start_process
from gravity_platform.kernel.cache import connect
from gravity_platform.kernel.settings import ValkeySettings, host_and_port
from tests.platform.harness import free_port

PASSWORD = "s3ntinel test/secret"
MASTER = "gravity"
HOST = "127.0.0.1"
WAIT = 20.0
"""Seconds any one step may take on a slow machine; each wait ends as soon as its condition holds."""
UNAVAILABLE = (valkey.ConnectionError, valkey.TimeoutError)


@dataclass
class Cluster:
    """Where the primary, the replica and the sentinel listen, their processes, and the folder of their logs."""

    primary: int
    replica: int
    sentinel: int
    logs: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def settings(self) -> ValkeySettings:
        """A node's settings as production writes them (the url's host:port is the initial primary's); a dead
        sentinel comes first."""
        url = f"redis://default:{quote(PASSWORD, safe='')}@{HOST}:{self.primary}/0"
        return ValkeySettings(url=url, timeout=0.5, sentinels=[f"{HOST}:{free_port()}", f"{HOST}:{self.sentinel}"])


def direct(port: int) -> valkey.Valkey:
    """A plain client of one server or sentinel."""
    return valkey.Valkey(host=HOST, port=port, password=PASSWORD, socket_timeout=2.0, socket_connect_timeout=2.0)


async def ask(port: int, *command: str | int) -> object:
    """A command on one server or sentinel; None while it does not answer or refuses."""
    async with direct(port) as client:
        try:
            return await client.execute_command(*command)  # type: ignore[no-untyped-call]
        except (*UNAVAILABLE, valkey.ResponseError):
            return None


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, logs: Path) -> None:
    """Return once `condition()` holds; fail, quoting the logs, after `WAIT` seconds."""
    deadline = time.monotonic() + WAIT
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT:.0f} s; last log lines {last_lines(logs)}")
        await asyncio.sleep(0.05)


def last_lines(logs: Path) -> dict[str, str]:
    return {log.name: last_log_line(log) for log in sorted(logs.glob("*.log"))}


async def start(name: str, config: list[str], folder: Path, *flags: str) -> ManagedProcess:
    """valkey-server with `config` written to `folder/name.conf` (Sentinel rewrites its own)."""
    path = write_config(name, config, folder)
    return await start_process(name, [str(valkey_server_binary()), str(path), *flags], log_path=folder / f"{name}.log")


def write_config(name: str, config: list[str], folder: Path) -> Path:
    data = folder / name
    data.mkdir()
    path = folder / f"{name}.conf"
    path.write_text("\n".join([*config, f'dir "{data}"', 'logfile ""', "daemonize no", f"bind {HOST}"]) + "\n")
    return path


def server_config(port: int) -> list[str]:
    return [f"port {port}", f'requirepass "{PASSWORD}"', f'masterauth "{PASSWORD}"', 'save ""', "appendonly no",
            "repl-diskless-sync-delay 0"]


def sentinel_config(port: int, primary: int) -> list[str]:
    return [f"port {port}", f'requirepass "{PASSWORD}"', f'sentinel sentinel-pass "{PASSWORD}"',
            f"sentinel monitor {MASTER} {HOST} {primary} 1", f'sentinel auth-pass {MASTER} "{PASSWORD}"',
            f"sentinel down-after-milliseconds {MASTER} 1000", f"sentinel failover-timeout {MASTER} 3000"]


async def replica_in_sync(cluster: Cluster) -> bool:
    info = await ask(cluster.replica, "INFO", "replication")
    return isinstance(info, dict) and info.get("master_link_status") == "up"


async def sentinel_knows_the_replica(cluster: Cluster) -> bool:
    replicas = await ask(cluster.sentinel, "SENTINEL", "REPLICAS", MASTER)
    return isinstance(replicas, list) and any(
        fields[fields.index(b"port") + 1] == str(cluster.replica).encode()
        and fields[fields.index(b"flags") + 1] == b"slave"
        for fields in replicas
    )


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """A primary, its replica and one sentinel watching them (quorum 1), all stopped afterwards."""
    cluster = Cluster(primary=free_port(), replica=free_port(), sentinel=free_port(), logs=tmp_path)
    replica = [*server_config(cluster.replica), f"replicaof {HOST} {cluster.primary}"]
    try:
        cluster.processes["primary"] = await start("primary", server_config(cluster.primary), tmp_path)
        cluster.processes["replica"] = await start("replica", replica, tmp_path)
        await eventually(lambda: replica_in_sync(cluster), "the replica syncs", tmp_path)
        sentinel = sentinel_config(cluster.sentinel, cluster.primary)
        cluster.processes["sentinel"] = await start("sentinel", sentinel, tmp_path, "--sentinel")
        await eventually(lambda: sentinel_knows_the_replica(cluster), "the sentinel finds the replica", tmp_path)
        yield cluster
    finally:
        for process in reversed(cluster.processes.values()):
            await process.stop(timeout=5.0)


async def write_before_failover(client: valkey.Valkey, cluster: Cluster) -> None:
    """A write through the client lands on the primary and reaches the replica."""
    await client.set("before", "failover")
    assert await ask(cluster.primary, "GET", "before") == b"failover"
    assert await client.wait(1, 5000) == 1


async def writes_reach_the_former_replica(client: valkey.Valkey, cluster: Cluster) -> None:
    """Wait until the former replica reports itself the primary and a write through `client`, made after that,
    is there; what was written before the failover is there too."""
    attempts = count()

    async def a_write_lands_there() -> bool:
        role = await ask(cluster.replica, "ROLE")
        if not isinstance(role, list) or role[0] != b"master":
            return False
        value = f"after-{next(attempts)}"
        try:
            await client.set("after", value)
        except UNAVAILABLE:
            return False
        return await ask(cluster.replica, "GET", "after") == value.encode()

    await eventually(a_write_lands_there, "writes through the same client reach the new primary", cluster.logs)
    assert await ask(cluster.replica, "GET", "before") == b"failover"


async def test_writes_follow_a_forced_failover(cluster: Cluster) -> None:
    """`SENTINEL FAILOVER gravity COORDINATED` (as for maintenance): the old primary hands over and becomes a
    replica at once, and the same client's writes move to the new primary. (Without COORDINATED, Sentinel
    demotes the still-running old primary only at its next 10 s INFO round, and writes reach it until then.)
    Closing the client closes its connections to the sentinels too (else a ResourceWarning fails the test)."""
    client = connect(cluster.settings())
    try:
        await write_before_failover(client, cluster)

        async def failover_accepted() -> bool:
            return await ask(cluster.sentinel, "SENTINEL", "FAILOVER", MASTER, "COORDINATED") is not None

        await eventually(failover_accepted, "SENTINEL FAILOVER is accepted", cluster.logs)
        await writes_reach_the_former_replica(client, cluster)
    finally:
        await client.aclose()
    del client
    gc.collect()


async def test_writes_follow_the_loss_of_the_primary(cluster: Cluster) -> None:
    """The primary is killed: Sentinel promotes the replica by itself and the same client's writes go there."""
    client = connect(cluster.settings())
    try:
        await write_before_failover(client, cluster)
        cluster.processes["primary"].send_signal(signal.SIGKILL)
        await writes_reach_the_former_replica(client, cluster)
    finally:
        await client.aclose()


async def test_sentinels_all_down_is_lazy_and_fails_fast() -> None:
    """A client whose sentinels are all down is made without error; its commands fail with a ConnectionError
    within the timeout instead of hanging."""
    client = connect(ValkeySettings(url="redis://default:secret@127.0.0.1:1/0", timeout=0.2,
                                    sentinels=[f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"]))
    try:
        started = time.monotonic()
        with pytest.raises(valkey.ConnectionError):
            await asyncio.wait_for(client.set("key", "value"), 5.0)
        assert time.monotonic() - started < 2.0
    finally:
        await client.aclose()


@pytest.mark.parametrize(("address", "expected"), [
    ("10.0.0.1:26379", ("10.0.0.1", 26379)), ("valkey-1.internal:26379", ("valkey-1.internal", 26379)),
    ("[fd00::3]:26379", ("fd00::3", 26379)), ("fd00::3:26379", ("fd00::3", 26379)),
])  # fmt: skip
def test_sentinel_addresses(address: str, expected: tuple[str, int]) -> None:
    """host:port, an IPv6 host with or without brackets (the port is after the last colon)."""
    assert host_and_port(address) == expected
    assert ValkeySettings(sentinels=[address]).sentinel_addresses() == [expected]


@pytest.mark.parametrize("address", ["10.0.0.1", ":26379", "host:", "host:port", "host:70000", "host:0"])
def test_a_sentinel_needs_host_and_port(address: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="is not host:port"):
        ValkeySettings(sentinels=[address])


def test_sentinels_need_a_plain_url() -> None:
    """The url's TLS or unix socket would not reach the connections Sentinel directs: refused, not ignored."""
    for url in ("rediss://default:x@h:6379/0", "unix:///run/valkey.sock"):
        with pytest.raises(pydantic.ValidationError, match="no TLS"):
            ValkeySettings(url=url, sentinels=["h:26379"])
        assert ValkeySettings(url=url).sentinels == []
    assert ValkeySettings().sentinel_master == "gravity"
