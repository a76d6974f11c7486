"""Three hosts: NATS forms a routed cluster with an R3 JetStream stream; Valkey replicates under Sentinel."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import BootHosts, record_time
from .helpers import ENGINE_PORTS, DeployEnv, eventually, http_get_json, make_inventory, nats_request, open_ports
from .helpers import valkey_commands as valkey
from .hosts import Host

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

STREAM = {"name": "PROBE", "subjects": ["probe.>"], "num_replicas": 3, "storage": "file"}


@dataclass(frozen=True)
class Cluster:
    """Three converged hosts."""

    hosts: list[Host]
    inventory: Path
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def cluster(testhosts: DeployEnv, boot_hosts: BootHosts, run_dir: Path) -> Cluster:
    """Boot three hosts and converge the NATS and Valkey roles across them."""
    hosts = boot_hosts("c1", "c2", "c3")
    inventory = make_inventory(testhosts, run_dir, {"nats": hosts, "valkey": hosts})
    run = testhosts.ansible.playbook("site.yml", inventory, log=run_dir / "converge-1.log")
    record_time("cluster (3 hosts, nats + valkey): first converge", run.seconds)
    assert run.returncode == 0, f"site.yml failed; see {run_dir / 'converge-1.log'}\n{run.output[-4000:]}"
    return Cluster(hosts, inventory, testhosts.ansible.read_vault(inventory.parent / "secrets.vault.yml"))


def test_nats_servers_route_to_each_other(cluster: Cluster) -> None:
    """Each server has routes to the two others and sees a three-peer JetStream meta group with a leader."""
    names = {host.name for host in cluster.hosts}
    for host in cluster.hosts:
        routez = http_get_json(host, "http://127.0.0.1:8222/routez")
        assert {route["remote_name"] for route in routez["routes"]} == names - {host.name}

    def meta_ready() -> dict[str, Any]:
        meta: dict[str, Any] = http_get_json(cluster.hosts[0], "http://127.0.0.1:8222/jsz")["meta_cluster"]
        return meta if meta.get("leader") and meta["cluster_size"] == 3 else {}

    assert eventually(meta_ready)["name"] == "gravity"


def test_r3_stream_replicates_across_the_cluster(cluster: Cluster) -> None:
    """An R3 stream created on one server holds an acknowledged message on all three."""
    first, *others = cluster.hosts
    password = cluster.secrets["nats_app"]
    created, ack = nats_request(
        first, password, [(f"$JS.API.STREAM.CREATE.{STREAM['name']}", STREAM), ("probe.hello", {"n": 1})]
    )["replies"]
    assert "error" not in created, created
    assert created["config"]["num_replicas"] == 3
    assert ack == {"stream": "PROBE", "seq": 1}

    def replicated() -> dict[str, Any]:
        info: dict[str, Any] = nats_request(others[-1], password, [("$JS.API.STREAM.INFO.PROBE", None)])["replies"][0]
        replicas = info["cluster"].get("replicas", [])
        current = len(replicas) == 2 and all(replica["current"] for replica in replicas)
        return info if current and info["state"]["messages"] == 1 else {}

    info = eventually(replicated)
    assert {info["cluster"]["leader"], *(r["name"] for r in info["cluster"]["replicas"])} == {"c1", "c2", "c3"}


def test_valkey_replicates_under_sentinel(cluster: Cluster) -> None:
    """The first host is the primary with two replicas; the three Sentinels know each other and the replicas."""
    primary, *replicas = cluster.hosts
    password = cluster.secrets["valkey"]
    role = valkey(primary, [["AUTH", password], ["SET", "probe", "42"], ["ROLE"]])
    assert role[:2] == ["OK", "OK"]
    assert role[2][0] == "master"
    for replica in replicas:

        def synced(replica: Host = replica) -> bool:
            return bool(valkey(replica, [["AUTH", password], ["GET", "probe"]])[1] == "42")

        assert eventually(synced)
        assert valkey(replica, [["AUTH", password], ["ROLE"]])[1][0] == "slave"

    def sentinels_agree() -> bool:
        replies = valkey(replicas[0], [["AUTH", password], ["SENTINEL", "MASTER", "gravity"]], port=26379)
        fields = dict(zip(replies[1][::2], replies[1][1::2], strict=True))
        return (fields["ip"], fields["num-slaves"], fields["num-other-sentinels"]) == (primary.ip, "2", "2")

    assert eventually(sentinels_agree, timeout=30)


def test_internal_ports_are_closed_to_outsiders(cluster: Cluster) -> None:
    """The hosts reach each other's engine ports, the test machine does not."""
    assert open_ports(cluster.hosts[0].ip, (22, *ENGINE_PORTS)) == {22}
    peer = cluster.hosts[1]
    assert valkey(peer, [["PING"]], target=cluster.hosts[0].ip)[0]["error"].startswith("NOAUTH")


def test_cluster_rerun_changes_nothing(testhosts: DeployEnv, cluster: Cluster, run_dir: Path) -> None:
    """Idempotence across the cluster: a second run reports changed=0 on every host."""
    run = testhosts.ansible.playbook("site.yml", cluster.inventory, log=run_dir / "converge-2.log")
    record_time("cluster: rerun", run.seconds)
    assert run.returncode == 0, run.output[-4000:]
    assert run.total("changed") == 0, "\n".join(run.changed_tasks())


def test_sentinel_promotes_a_replica_when_the_primary_loses_power(cluster: Cluster) -> None:
    """Hard power-off of the primary (destructive, so last): Sentinel promotes a replica holding the data."""
    primary, *replicas = cluster.hosts
    password = cluster.secrets["valkey"]
    started = time.monotonic()
    primary.stop(hard=True)

    def promoted() -> str | None:
        command = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "gravity"]
        address = valkey(replicas[0], [["AUTH", password], command], port=26379)[1][0]
        return address if address != primary.ip else None

    new_ip = eventually(promoted, timeout=60)
    record_time("valkey: failover after the primary's power-off", time.monotonic() - started)
    (new_primary,) = [host for host in replicas if host.ip == new_ip]
    role, value = valkey(new_primary, [["AUTH", password], ["ROLE"], ["GET", "probe"]])[1:]
    assert role[0] == "master"
    assert value == "42"
