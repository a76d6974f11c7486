"""Generated credentials of the embedded servers, kept in ``secrets/`` (0700) as 0600 files and reused."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from .paths import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensure_dir, write_private

POSTGRES_USER = "postgres"
NATS_USER = "gravity"
_TOKEN_BYTES = 32


@dataclass(frozen=True, repr=False)
class StackSecrets:
    """Passwords of the PostgreSQL superuser, the NATS user and Valkey's ``requirepass``."""

    postgres_password: str
    nats_password: str
    valkey_password: str

    def __repr__(self) -> str:
        return "StackSecrets(<redacted>)"

    @classmethod
    def load_or_create(cls, directory: Path) -> StackSecrets:
        """Read the secrets from ``directory``, generating any that are missing."""
        ensure_dir(directory, PRIVATE_DIR_MODE)
        return cls(
            postgres_password=_load_or_create(directory / "postgres-password"),
            nats_password=_load_or_create(directory / "nats-password"),
            valkey_password=_load_or_create(directory / "valkey-password"),
        )


def _load_or_create(path: Path) -> str:
    if path.exists():
        if path.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
            path.chmod(PRIVATE_FILE_MODE)
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(_TOKEN_BYTES)
    write_private(path, value + "\n")
    return value
