"""Who PostgreSQL runs as: PostgreSQL refuses euid 0, so a root supervisor drops to an unprivileged user.

The user is the owner of the project folder when that is not root, else ``nobody``. The switch is done by
util-linux ``setpriv``, which also re-arms the parent-death signal (the kernel clears it when credentials
change) and forbids regaining privileges. Only when that user cannot traverse to the data or the
PostgreSQL install (e.g. the project sits under ``/root`` or a ``mktemp -d`` folder, both 0700) does the
process get the single capability CAP_DAC_READ_SEARCH, instead of opening up anyone's directories.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError

_NOBODY_ID = 65534


@dataclass(frozen=True)
class RunAs:
    """An unprivileged identity for PostgreSQL, and whether it needs CAP_DAC_READ_SEARCH to reach its files."""

    uid: int
    gid: int
    user: str
    blocked_at: Path | None = None

    @property
    def needs_search_capability(self) -> bool:
        return self.blocked_at is not None

    def describe(self) -> str:
        """The log line explaining the switch."""
        line = f"running as root: PostgreSQL runs as user {self.user} (uid {self.uid}), since it refuses root"
        if self.blocked_at is not None:
            line += (
                f"; with the CAP_DAC_READ_SEARCH capability because {self.blocked_at} is not searchable by "
                f"{self.user} (no directory permissions are changed)"
            )
        return line

    def command_prefix(self, pdeathsig: signal.Signals) -> list[str]:
        """``setpriv ...`` arguments that run the following command as this identity."""
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise StackError("running as root needs util-linux 'setpriv' to start PostgreSQL as another user")
        caps = (
            [
                "--inh-caps=-all,+dac_read_search",
                "--ambient-caps=+dac_read_search",
                "--bounding-set=-all,+dac_read_search",
            ]
            if self.needs_search_capability
            else ["--inh-caps=-all", "--bounding-set=-all"]
        )
        return [
            setpriv,
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--no-new-privs",
            *caps,
            f"--pdeathsig={pdeathsig.name.removeprefix('SIG')}",
        ]


def postgres_identity(project_dirs: Iterable[Path], must_reach: Iterable[Path]) -> RunAs | None:
    """The identity PostgreSQL must run as, or None when this process is not root.

    ``project_dirs`` are checked in order for a non-root owner; ``must_reach`` are the folders the server
    has to traverse into (its data's parent, its install tree).
    """
    if os.geteuid() != 0:
        return None
    uid, gid, user = _pick_user(project_dirs)
    blocked = (_first_blocked(path, uid, gid) for path in must_reach)
    return RunAs(uid=uid, gid=gid, user=user, blocked_at=next((path for path in blocked if path), None))


def _pick_user(project_dirs: Iterable[Path]) -> tuple[int, int, str]:
    """The first non-root owner among ``project_dirs`` that has a passwd entry (initdb needs one), else nobody."""
    for directory in project_dirs:
        if directory.exists():
            owner = directory.stat().st_uid
            if owner != 0:
                with contextlib.suppress(KeyError):
                    entry = pwd.getpwuid(owner)
                    return entry.pw_uid, entry.pw_gid, entry.pw_name
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return _NOBODY_ID, _NOBODY_ID, "nobody"
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def _first_blocked(path: Path, uid: int, gid: int) -> Path | None:
    """The outermost folder on the way to ``path`` that ``uid``/``gid`` may not search, if any."""
    for directory in [*reversed(path.parents), path]:
        info = directory.stat()
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return directory
    return None
