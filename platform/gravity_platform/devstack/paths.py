"""Layout of a dev stack's project folder (`.gravity/` by default) and private-file helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT_NAME = ".gravity"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
TRAVERSE_ONLY_MODE = 0o711


@dataclass(frozen=True)
class StackPaths:
    """Where a dev stack keeps its data, logs, secrets and run-time files.

    ``root/data/{postgres,nats,valkey,mail}`` hold the servers' data (``mail``: caught email),
    ``root/logs/<name>.log`` one log per process, ``root/secrets/`` generated credentials and the config files
    that contain them, ``root/run/`` locks and pid records, and ``root/stack.json`` the supervisor's state.
    """

    root: Path

    @classmethod
    def at(cls, root: Path | str) -> StackPaths:
        """Paths for the project folder ``root`` (made absolute, symlinks kept)."""
        return cls(Path(root).expanduser().absolute())

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def postgres_data(self) -> Path:
        return self.data / "postgres"

    @property
    def nats_data(self) -> Path:
        return self.data / "nats"

    @property
    def valkey_data(self) -> Path:
        return self.data / "valkey"

    @property
    def mail_data(self) -> Path:
        """The dev mail catcher's messages (see :mod:`.mailbox`)."""
        return self.data / "mail"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def stack_lock(self) -> Path:
        return self.run / "stack.lock"

    @property
    def supervisor_lock(self) -> Path:
        return self.run / "supervisor.lock"

    @property
    def children_file(self) -> Path:
        return self.run / "children.json"

    def log(self, name: str) -> Path:
        """The log file of the managed process ``name``."""
        return self.logs / f"{name}.log"

    def create(self) -> None:
        """Create the layout; private folders are 0700, ``data/`` only traversable by others."""
        self.root.mkdir(parents=True, exist_ok=True)
        ensure_dir(self.data, TRAVERSE_ONLY_MODE)
        for private in (self.nats_data, self.valkey_data, self.logs, self.secrets, self.run):
            ensure_dir(private, PRIVATE_DIR_MODE)


def ensure_dir(path: Path, mode: int) -> None:
    """Create ``path`` if missing and give it exactly ``mode``."""
    path.mkdir(mode=mode, exist_ok=True)
    if path.stat().st_mode & 0o7777 != mode:
        path.chmod(mode)


def write_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``, readable by the owner only (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, PRIVATE_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
