"""The files role on three hosts: SeaweedFS forms one store behind an S3 gateway on every host, replicates each
object on two hosts, and accepts only the S3 identity kept in the vault."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx2
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError

from .conftest import BootHosts, record_time
from .helpers import DeployEnv, eventually, make_inventory
from .hosts import Host

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

S3_PORT = 8333
MASTER_PORT = 9333


@dataclass(frozen=True)
class Store:
    """Three hosts converged with the files role."""

    hosts: list[Host]
    inventory: Path
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def store(testhosts: DeployEnv, boot_hosts: BootHosts, run_dir: Path) -> Store:
    """Boot three hosts in the files group only; the test machine is a trusted source (an admin network)."""
    hosts = boot_hosts("sw1", "sw2", "sw3")
    inventory = make_inventory(testhosts, run_dir, {"files": hosts})
    group_vars = inventory.parent / "group_vars" / "all.yml"
    settings = json.loads(group_vars.read_text())
    settings["common_firewall_trusted_sources"] = [f"{testhosts.network.gateway}/32"]
    group_vars.write_text(json.dumps(settings, indent=2) + "\n")
    run = testhosts.ansible.playbook("site.yml", inventory, log=run_dir / "converge-1.log")
    record_time("files role (3 hosts, SeaweedFS): first converge", run.seconds)
    assert run.returncode == 0, f"site.yml failed; see {run_dir / 'converge-1.log'}\n{run.explain()}"
    return Store(hosts, inventory, testhosts.ansible.read_vault(inventory.parent / "secrets.vault.yml"))


def _s3(host: Host, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=f"http://{host.ip}:{S3_PORT}", aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )  # fmt: skip


def test_put_on_one_gateway_and_get_from_the_others(store: Store) -> None:
    """An object written through one host's S3 gateway with the vaulted credentials reads back through the others."""
    access, secret = store.secrets["files_s3_access_key"], store.secrets["files_s3_secret_key"]
    body = b"gravity-" + str(time.time_ns()).encode() * 1000
    _s3(store.hosts[0], access, secret).put_object(Bucket="gravity-files", Key="probe/one", Body=body)
    for host in store.hosts:

        def read(host: Host = host) -> bytes:
            try:
                answer = _s3(host, access, secret).get_object(Bucket="gravity-files", Key="probe/one")
            except ClientError:  # the filers share metadata asynchronously
                return b""
            data: bytes = answer["Body"].read()
            return data

        assert eventually(read, timeout=60) == body
    with pytest.raises(ClientError) as denied:
        _s3(store.hosts[1], access, "not-the-secret").get_object(Bucket="gravity-files", Key="probe/one")
    assert denied.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")


def test_objects_are_replicated_on_two_hosts(store: Store) -> None:
    """The masters agree on a leader and the volume holding the object has a copy on two different hosts (the
    masters learn the file counts from the volume servers' heartbeats, hence the wait)."""

    def holders() -> dict[int, set[str]]:
        status = httpx2.get(f"http://{store.hosts[0].ip}:{MASTER_PORT}/vol/status", timeout=10).json()
        found: dict[int, set[str]] = {}
        for racks in status["Volumes"]["DataCenters"].values():
            for nodes in racks.values():
                for node, volumes in nodes.items():
                    for volume in volumes or []:
                        if volume.get("FileCount", 0) > 0:
                            found.setdefault(volume["Id"], set()).add(node.split(":")[0])
        return found

    def replicated() -> dict[int, set[str]]:
        found = holders()
        return found if found and all(len(nodes) == 2 for nodes in found.values()) else {}

    assert eventually(replicated, timeout=90)
    leader = httpx2.get(f"http://{store.hosts[2].ip}:{MASTER_PORT}/cluster/status", timeout=10).json()["Leader"]
    assert leader.split(":")[0] in {host.ip for host in store.hosts}


def test_every_component_listens_on_the_private_address_only(store: Store) -> None:
    """Master, volume server, filer and S3 gateway listen on the private address, never on all interfaces."""
    listening = store.hosts[0].ssh("ss -ltnH").stdout
    for port in (MASTER_PORT, 8380, 8888, S3_PORT):
        assert f"{store.hosts[0].ip}:{port} " in listening, listening
        assert f"0.0.0.0:{port} " not in listening and f"*:{port} " not in listening


def test_rerun_changes_nothing(testhosts: DeployEnv, store: Store, run_dir: Path) -> None:
    """Idempotence: a second run over the three SeaweedFS hosts reports changed=0."""
    run = testhosts.ansible.playbook("site.yml", store.inventory, log=run_dir / "converge-2.log")
    record_time("files role: rerun", run.seconds)
    assert run.returncode == 0, run.explain()
    assert run.total("changed") == 0, "\n".join(run.changed_tasks())
