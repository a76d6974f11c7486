"""Fixtures for the deploy tests: the cached image, the test network, throwaway hosts and Ansible.

Layout on the test machine (override with GRAVITY_TESTHOSTS_CACHE / GRAVITY_TESTHOSTS_STATE):

- ``/var/cache/gravity-testhosts``: the base image (by recipe hash), the shared apt archive, the wheelhouse.
- ``/var/lib/gravity-testhosts``: this run's hosts, SSH key and Ansible files; removed at the end.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from gravity_cli import wheelhouse

from .helpers import DeployEnv
from .hosts import Host, HostFactory, ensure_host_tools
from .image import ensure_image
from .network import HostNetwork
from .playbook import AnsibleEnv, require_tool

CACHE_DIR = Path(os.environ.get("GRAVITY_TESTHOSTS_CACHE", "/var/cache/gravity-testhosts"))
STATE_DIR = Path(os.environ.get("GRAVITY_TESTHOSTS_STATE", "/var/lib/gravity-testhosts"))
SUBNET = ipaddress.IPv4Network(os.environ.get("GRAVITY_TESTHOSTS_SUBNET", "10.99.0.0/24"))

TIMINGS: list[tuple[str, float]] = []
NOTES: list[str] = []


def record_time(label: str, seconds: float) -> None:
    """Remember a measured duration; all of them are printed at the end of the run."""
    TIMINGS.append((label, seconds))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the measured deploy timings (and what the harness installed)."""
    if TIMINGS or NOTES:
        terminalreporter.section("deploy timings")
        for label, seconds in TIMINGS:
            terminalreporter.write_line(f"{label:<48} {seconds:7.1f} s")
        for note in NOTES:
            terminalreporter.write_line(note)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("deploy tests boot systemd-nspawn hosts and need root (mount, bridge, nftables)")


@pytest.fixture(scope="session")
def ansible_playbook() -> Path:
    """The ansible-playbook executable (see :func:`require_tool`)."""
    return require_tool("ansible-playbook")


def _session_lock() -> IO[str]:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    handle = (CACHE_DIR / "session.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"\nwaiting for another deploy test run to release {handle.name}", file=sys.stderr, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _wheelhouse() -> dict[str, Path]:
    """The deploy wheelhouse, built once per run into the cache: engine wheels (downloaded once) and the node's
    wheels (the gravity wheel rebuilt from this checkout, its dependencies downloaded once)."""
    return wheelhouse.build(CACHE_DIR / "wheelhouse")


@pytest.fixture(scope="session")
def testhosts(request: pytest.FixtureRequest) -> Iterator[DeployEnv]:
    """Image, network, SSH key and Ansible for the whole run; tears everything down at the end."""
    _require_root()
    ansible_playbook: Path = request.getfixturevalue("ansible_playbook")
    installed = ensure_host_tools()
    if installed:
        NOTES.append(f"installed host packages: {', '.join(installed)}")
    lock = _session_lock()
    network = HostNetwork("br-gtest", SUBNET, "gravity_testhosts", STATE_DIR / "network.json")
    key = STATE_DIR / "id_ed25519"
    apt_cache = CACHE_DIR / "apt-archives"
    factory = HostFactory(Path(), network, STATE_DIR, key, apt_cache)
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        factory.cleanup_stale()
        factory.harvest_apt_downloads()
        network.down()
        for stale in ("ansible", "unpacked"):
            shutil.rmtree(STATE_DIR / stale, ignore_errors=True)
        image, build_seconds = ensure_image(CACHE_DIR)
        record_time("image build (mmdebstrap)" if build_seconds else "image (cached)", build_seconds or 0.0)
        factory.image = image
        (apt_cache / "partial").mkdir(parents=True, exist_ok=True)
        key.unlink(missing_ok=True)
        Path(f"{key}.pub").unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        network.up()
        started = time.monotonic()
        wheelhouse = _wheelhouse()
        record_time("wheelhouse", time.monotonic() - started)
        ansible = AnsibleEnv.create(STATE_DIR / "ansible", ansible_playbook)
        yield DeployEnv(factory, network, ansible, wheelhouse, STATE_DIR)
    finally:
        factory.destroy_all()
        network.down()
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        lock.close()


BootHosts = Callable[..., list[Host]]


@pytest.fixture(scope="module")
def boot_hosts(testhosts: DeployEnv) -> Iterator[BootHosts]:
    """A factory: ``boot_hosts("n1", "n2")`` boots fresh hosts, destroyed when the test module ends."""
    booted: list[Host] = []

    def boot(*names: str) -> list[Host]:
        started = time.monotonic()
        hosts = testhosts.factory.boot(names)
        record_time(f"boot {len(hosts)} host(s) to SSH", time.monotonic() - started)
        booted.extend(hosts)
        return hosts

    yield boot
    for host in booted:
        host.destroy()
        testhosts.factory.hosts.remove(host)
    if not testhosts.factory.hosts:
        testhosts.factory.harvest_apt_downloads()


@pytest.fixture(scope="module")
def run_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-module directory (kept by pytest after the run) for the inventory, vault, PKI and playbook logs."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
