"""The cached Debian base image the throwaway test hosts boot from.

The image is a plain root directory built by mmdebstrap (systemd, sshd, python3, sudo and a passwordless
``deploy`` user). It is keyed by a hash of its build recipe, so changing the recipe builds a new one and an
unchanged recipe reuses the cached tree. Per-host details (hostname, address, SSH key) are written into each
host's overlay at boot, so the image itself holds no secret and no address.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUITE = "bookworm"
DEPLOY_USER = "deploy"

# Bump when something outside the lists below changes what the image contains.
RECIPE_VERSION = 1

PACKAGES = (
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "sudo",
    "iproute2",
    "ca-certificates",
)

CUSTOMIZE_HOOKS = (
    'chroot "$1" systemctl enable systemd-networkd.service ssh.service',
    'chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer systemd-networkd-wait-online.service',
    f'chroot "$1" useradd -m -s /bin/bash -G sudo {DEPLOY_USER}',
    f'echo "{DEPLOY_USER} ALL=(ALL) NOPASSWD:ALL" > "$1/etc/sudoers.d/{DEPLOY_USER}"; '
    f'chmod 440 "$1/etc/sudoers.d/{DEPLOY_USER}"',
    'echo "UseDNS no" > "$1/etc/ssh/sshd_config.d/local.conf"',
    # Every host gets its own SSH host keys, generated at its first boot.
    'rm -f "$1"/etc/ssh/ssh_host_*; mkdir -p "$1/etc/systemd/system/ssh.service.d"; '
    'printf "[Service]\\nExecStartPre=\\nExecStartPre=/usr/bin/ssh-keygen -A\\nExecStartPre=/usr/sbin/sshd -t\\n" '
    '> "$1/etc/systemd/system/ssh.service.d/hostkeys.conf"',
    'printf "Acquire::Languages \\"none\\";\\n" > "$1/etc/apt/apt.conf.d/99-test"',
    # Throwaway hosts: dpkg need not fsync every file it unpacks (as in Debian's container images).
    'echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/99-unsafe-io"',
    # Each host writes its own address and name at boot.
    'rm -f "$1"/etc/systemd/network/*.network; : > "$1/etc/fstab"',
)


def recipe() -> dict[str, object]:
    """The complete build recipe; its hash names the cached image."""
    return {
        "version": RECIPE_VERSION,
        "suite": SUITE,
        "variant": "minbase",
        "packages": list(PACKAGES),
        "hooks": list(CUSTOMIZE_HOOKS),
    }


def recipe_key() -> str:
    """A short stable hash of :func:`recipe`."""
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_image(cache_dir: Path) -> tuple[Path, float | None]:
    """Return the root directory of the cached image, building it first if needed.

    Returns the rootfs path and the build time in seconds (``None`` when the cache was used). Concurrent callers
    wait on a lock; a half-built tree is never left under the final name.
    """
    images = cache_dir / "images"
    final = images / recipe_key()
    rootfs = final / "rootfs"
    with _locked(cache_dir / "image.lock"):
        if (final / "complete").exists():
            return rootfs, None
        started = time.monotonic()
        _prune(images)
        building = images / f".{recipe_key()}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        _mmdebstrap(building / "rootfs", building / "build.log")
        # An empty apt list dir with a fresh mtime makes Ansible's apt cache_valid_time skip the first
        # update; this has to happen after mmdebstrap's own cleanup (a hook runs too early).
        os.utime(building / "rootfs/var/lib/apt/lists", (0, 0))
        (building / "recipe.json").write_text(json.dumps(recipe(), indent=2, sort_keys=True))
        (building / "complete").touch()
        building.rename(final)
        return rootfs, time.monotonic() - started


def _prune(images: Path) -> None:
    """Remove images built from other recipes (and interrupted builds)."""
    if not images.is_dir():
        return
    for entry in images.iterdir():
        if entry.name != recipe_key():
            shutil.rmtree(entry, ignore_errors=True)


def _mmdebstrap(target: Path, log: Path) -> None:
    command = [
        "mmdebstrap",
        "--variant=minbase",
        "--mode=root",
        "--include=" + ",".join(PACKAGES),
        *(f"--customize-hook={hook}" for hook in CUSTOMIZE_HOOKS),
        SUITE,
        str(target),
    ]
    with log.open("w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"mmdebstrap failed ({result.returncode}); last lines of {log}:\n{tail}")
