"""Throwaway Debian hosts for the deploy tests: systemd-nspawn containers with systemd as PID 1.

Each host is an overlayfs over the cached base image (see :mod:`.image`), booted by ``systemd-nspawn --boot``
on the test bridge (see :mod:`.network`) with its own address and sshd. Hosts are reached over SSH as the
passwordless-sudo user ``deploy``, exactly like a fresh VM.

The apt package cache is shared without sharing apt's lock: each host's /var/cache/apt/archives is an overlay
whose lower layer is the shared archive, so hosts install in parallel and reuse every package downloaded by an
earlier run; what they download lands in their own upper layer and is moved into the shared archive when all
hosts are down (a shared read-write directory would make concurrent apt runs fail on its lock file).

Gotchas carried over from the measured reference (shared/reference/test-hosts.sh): this machine's PID 1 is not
systemd, so nspawn runs with ``--register=no --keep-unit``; ``/proc/sys`` is read-only inside (``vm.*`` sysctls
fail), and systemd units with ``ConditionVirtualization=!container`` (e.g. systemd-timesyncd) do not start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .image import DEPLOY_USER
from .network import HostNetwork

HOST_TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "systemd-nspawn": "systemd-container",
    "nft": "nftables",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ip": "iproute2",
}


def ensure_host_tools() -> list[str]:
    """Install the Debian packages the harness needs on the test machine; return those installed."""
    missing = sorted({package for tool, package in HOST_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env=env,
        )
    return missing


def ssh_options(key: Path) -> list[str]:
    """OpenSSH options for throwaway hosts (no host key checks, batch mode, short connect timeout)."""
    return [
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-o", "ConnectTimeout=3",
        "-o", "BatchMode=yes",
        "-i", str(key),
    ]  # fmt: skip


@dataclass
class Host:
    """One booted test host."""

    name: str
    ip: str
    workdir: Path
    key: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        """The host's merged root directory as seen from the test machine."""
        return self.workdir / "root"

    @property
    def running(self) -> bool:
        """Whether the container's nspawn process is still alive."""
        return self.process is not None and self.process.poll() is None

    def ssh(
        self, command: str, *, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` through the remote shell as the deploy user; raise on failure when ``check``."""
        result = subprocess.run(
            ["ssh", *ssh_options(self.key), f"{DEPLOY_USER}@{self.ip}", command],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.name}: {command!r} exited {result.returncode}\n"
                f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
            )
        return result

    def wait_ssh(self, timeout: float = 60) -> None:
        """Wait until sshd accepts the deploy user's key."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited while booting; see {self.workdir / 'console.log'}")
            if port_open(self.ip, 22, timeout=0.5) and self.ssh("true", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} ({self.ip}): no SSH after {timeout:.0f}s; see {self.workdir}/console.log")

    def console_tail(self, lines: int = 30) -> str:
        """The last lines the host's console printed (its boot)."""
        try:
            return "\n".join(
                (self.workdir / "console.log").read_bytes().decode(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no console log)"

    def stop(self, *, hard: bool = True, timeout: float = 20) -> None:
        """Power the host off: ``hard`` kills its PID 1 at once (a pulled plug), else a clean shutdown."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if hard:
                _kill_container(self.process.pid)
            else:
                self.process.send_signal(signal.SIGTERM)  # nspawn turns this into a clean poweroff
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self.process = None

    def destroy(self) -> None:
        """Stop the host and remove its overlay and files."""
        self.stop(hard=True)
        _unmount(self.root)
        shutil.rmtree(self.workdir, ignore_errors=True)


def port_open(ip: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to ``ip:port`` from the test machine succeeds."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def _kill_container(nspawn_pid: int) -> None:
    """SIGKILL the container's PID 1, which takes every process of its PID namespace with it."""
    for pid in _descendants(nspawn_pid):
        with contextlib.suppress(OSError):
            ns_pids = Path(f"/proc/{pid}/status").read_text().split("NSpid:")[1].split("\n")[0].split()
            if len(ns_pids) > 1 and ns_pids[-1] == "1":
                os.kill(pid, signal.SIGKILL)
                return
    with contextlib.suppress(ProcessLookupError):
        os.kill(nspawn_pid, signal.SIGKILL)


def _descendants(pid: int) -> Iterator[int]:
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                yield int(child)
                yield from _descendants(int(child))


def _unmount(path: Path) -> None:
    for _ in range(50):
        if subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode != 0:
            return
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@dataclass
class HostFactory:
    """Boots hosts from the cached image on the test network; tears all of them down in :meth:`destroy_all`."""

    image: Path
    network: HostNetwork
    state_dir: Path
    key: Path
    apt_cache: Path
    hosts: list[Host] = field(default_factory=list)
    _next_index: int = 1

    def boot(self, names: Sequence[str], *, timeout: float = 90) -> list[Host]:
        """Boot one host per name in parallel; return them once all accept SSH."""
        booted = []
        for name in names:
            host = Host(name, self.network.host_ip(self._next_index), self.state_dir / "hosts" / name, self.key)
            self._next_index += 1
            self.hosts.append(host)
            self._start(host)
            booted.append(host)
        with ThreadPoolExecutor(max_workers=len(booted) or 1) as pool:
            list(pool.map(lambda h: self._wait_booted(h, timeout), booted))
        return booted

    def _wait_booted(self, host: Host, timeout: float) -> None:
        """Wait for SSH. A host that does not come up is booted once more: a throwaway container's hiccup is not
        the product's failure. Should the second boot fail too, the error carries both consoles' last lines."""
        try:
            host.wait_ssh(timeout)
            return
        except (TimeoutError, RuntimeError) as error:
            first = f"{error}\nits console:\n{host.console_tail()}"
        print(f"{host.name}: booting again after: {first}", file=sys.stderr)
        host.destroy()
        self._start(host)
        try:
            host.wait_ssh(timeout)
        except (TimeoutError, RuntimeError) as error:
            raise TimeoutError(f"{error}\nits console:\n{host.console_tail()}\nthe first boot: {first}") from None

    def destroy_all(self) -> None:
        """Destroy every host this factory booted, and any left by a run that died."""
        for host in self.hosts:
            host.destroy()
        self.hosts.clear()
        self.cleanup_stale()
        self.harvest_apt_downloads()

    def cleanup_stale(self) -> None:
        """Kill and unmount hosts recorded under the state dir by an earlier run that did not finish."""
        for workdir in sorted((self.state_dir / "hosts").glob("*")):
            pid_file = workdir / "pid"
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text())
                if "systemd-nspawn" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    _kill_container(pid)
                    for _ in range(100):
                        if not Path(f"/proc/{pid}").exists():
                            break
                        time.sleep(0.1)
            _unmount(workdir / "root")
            shutil.rmtree(workdir, ignore_errors=True)

    def _start(self, host: Host) -> None:
        shutil.rmtree(host.workdir, ignore_errors=True)
        for sub in ("upper", "work", "root"):
            (host.workdir / sub).mkdir(parents=True)
        lower, upper, work = self.image, host.workdir / "upper", host.workdir / "work"
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(host.root)], check=True)
        self._personalise(host)
        console = (host.workdir / "console.log").open("wb")
        with console:
            host.process = subprocess.Popen(
                [
                    "systemd-nspawn", "--boot", f"--machine={host.name}", "-D", str(host.root),
                    "--register=no", "--keep-unit", f"--network-bridge={self.network.bridge}",
                    "--console=read-only",
                    f"--overlay={self.apt_cache}:{self._apt_upper(host)}:/var/cache/apt/archives",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        (host.workdir / "pid").write_text(str(host.process.pid))

    def _apt_upper(self, host: Host) -> Path:
        """The host's own layer over the shared apt archive: apt locks and downloads land here."""
        upper = self.state_dir / "apt-upper" / host.name
        shutil.rmtree(upper, ignore_errors=True)
        upper.mkdir(parents=True)
        return upper

    def harvest_apt_downloads(self) -> int:
        """Move the packages the hosts downloaded into the shared archive (call when no host runs)."""
        moved = 0
        for deb in sorted((self.state_dir / "apt-upper").glob("*/*.deb")):
            target = self.apt_cache / deb.name
            if not target.exists():
                shutil.move(deb, target)
                moved += 1
        shutil.rmtree(self.state_dir / "apt-upper", ignore_errors=True)
        return moved

    def _personalise(self, host: Host) -> None:
        root = host.root
        (root / "etc/hostname").write_text(f"{host.name}\n")
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {host.name}\n")
        prefix = self.network.subnet.prefixlen
        (root / "etc/systemd/network/10-host0.network").write_text(
            f"[Match]\nName=host0\n[Network]\nAddress={host.ip}/{prefix}\nGateway={self.network.gateway}\n"
        )
        resolv = root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        servers = [line for line in Path("/etc/resolv.conf").read_text().splitlines() if line.startswith("nameserver")]
        resolv.write_text("\n".join(servers) + "\n")
        ssh_dir = root / "home" / DEPLOY_USER / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        owner = (root / "home" / DEPLOY_USER).stat()
        for path in (ssh_dir, ssh_dir / "authorized_keys"):
            os.chown(path, owner.st_uid, owner.st_gid)


def write_inventory(path: Path, groups: Mapping[str, Sequence[Host]], key: Path) -> Path:
    """Write an INI inventory placing ``hosts`` in ``groups``; every host connects as the deploy user."""
    hosts = {host.name: host for members in groups.values() for host in members}
    lines = ["[all]"]
    lines += [f"{h.name} ansible_host={h.ip} gravity_private_address={h.ip}" for h in hosts.values()]
    for group, members in groups.items():
        lines += ["", f"[{group}]", *(h.name for h in members)]
    lines += [
        "",
        "[all:vars]",
        f"ansible_user={DEPLOY_USER}",
        f"ansible_ssh_private_key_file={key}",
        "ansible_python_interpreter=/usr/bin/python3",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
