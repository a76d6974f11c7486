"""The stored sign-in of ``gravity login``: server URL and tokens, in a file only its owner can read.

The file is ``$GRAVITY_CREDENTIALS_FILE`` or ``~/.config/gravity/credentials.json`` (honouring
``XDG_CONFIG_HOME``), mode 0600 in a 0700 folder. Clients built from it persist the tokens the SDK
refreshes, so a session lasts as long as its refresh token.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    import httpx2

    from gravity_sdk import Gravity, Tokens

CREDENTIALS_ENV = "GRAVITY_CREDENTIALS_FILE"
FILE_MODE = 0o600
DIR_MODE = 0o700


def credentials_path() -> Path:
    """Where the credentials live."""
    explicit = os.environ.get(CREDENTIALS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "gravity" / "credentials.json"


@dataclass(frozen=True)
class Credentials:
    """A signed-in session with one Gravity server."""

    base_url: str
    email: str
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: str | None = None
    """The access token's expiry, ISO 8601 with a timezone."""

    def with_tokens(self, tokens: Tokens) -> Credentials:
        """A copy holding ``tokens``."""
        expires = tokens.expires_at.isoformat() if tokens.expires_at is not None else None
        return Credentials(self.base_url, self.email, tokens.access_token, tokens.refresh_token, expires)

    def client(self, *, persist: bool = True, transport: httpx2.BaseTransport | None = None) -> Gravity:
        """An SDK client resuming this session; with ``persist`` refreshed tokens are saved as they arrive.

        ``transport`` replaces the HTTP layer (tests).
        """
        from gravity_sdk import Gravity

        expires_at = datetime.fromisoformat(self.expires_at) if self.expires_at else None

        def remember(tokens: Tokens) -> None:
            save(self.with_tokens(tokens))

        return Gravity(
            base_url=self.base_url,
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            expires_at=expires_at,
            on_tokens=remember if persist else None,
            transport=transport,
        )


def load(path: Path | None = None) -> Credentials | None:
    """The stored credentials, or None if there are none; a damaged file is an error."""
    path = path or credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
        return Credentials(**{key: data.get(key) for key in Credentials.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError) as exc:
        raise CLIError(f"{path} is damaged; sign in again with `gravity login`") from exc


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Write ``credentials`` atomically, readable by the owner only; returns the path."""
    path = path or credentials_path()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=DIR_MODE)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(credentials), indent=2) + "\n")
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def signed_in() -> Credentials:
    """The stored credentials, or a :class:`CLIError` telling the user to sign in."""
    credentials = load()
    if credentials is None or (credentials.access_token is None and credentials.refresh_token is None):
        raise CLIError("not signed in; run `gravity login` first")
    return credentials
