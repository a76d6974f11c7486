"""Reading the dev stack's logs (``<root>/logs/<name>.log``): the last lines, following, and making the
node's JSON lines readable."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

_LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red", "critical": "bold red"}
_STANDARD_KEYS = frozenset({"ts", "level", "logger", "msg", "exc"})
_BLOCK = 64 * 1024


def log_files(directory: Path) -> dict[str, Path]:
    """Every ``*.log`` in ``directory`` by process name, sorted by name."""
    if not directory.is_dir():
        return {}
    return {path.stem: path for path in sorted(directory.glob("*.log"))}


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of ``path`` (read from the end, so large logs cost little)."""
    if lines <= 0:
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def last_problem(path: Path) -> str | None:
    """The last error-level message in a log (the last line if none is marked as an error), for one-liners."""
    lines = tail(path, 200) if path.exists() else []
    for line in reversed(lines):
        entry = _json(line)
        if entry is not None and str(entry.get("level", "")).lower() in ("error", "critical"):
            exc = str(entry.get("exc") or "").strip().splitlines()
            return f"{entry.get('msg', '')}{': ' + exc[-1] if exc else ''}"
        if entry is None and ("Error" in line or "error" in line):
            return line.strip()
    return lines[-1].strip() if lines else None


def render(line: str, *, raw: bool = False, prefix: str | None = None) -> Text:
    """One log line for the terminal: JSON records as ``time level logger: message key=value``."""
    text = Text(f"{prefix} | " if prefix else "", style="cyan")
    entry = None if raw else _json(line)
    if entry is None:
        return text.append(line)
    level = str(entry.get("level", "info")).lower()
    stamp = str(entry.get("ts", ""))[11:23]
    text.append(f"{stamp} ", style="dim").append(f"{level.upper():<7} ", style=_LEVEL_STYLES.get(level, ""))
    text.append(f"{entry.get('logger', '')}: ", style="dim").append(str(entry.get("msg", "")))
    extras = " ".join(f"{key}={value}" for key, value in entry.items() if key not in _STANDARD_KEYS)
    if extras:
        text.append(f" {extras}", style="dim")
    if entry.get("exc"):
        text.append("\n" + str(entry["exc"]), style="red")
    return text


@dataclass
class _Cursor:
    name: str
    path: Path
    offset: int = 0
    inode: int | None = None
    pending: bytes = b""

    @classmethod
    def at_end(cls, name: str, path: Path) -> _Cursor:
        """A cursor past what ``path`` holds now."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return cls(name, path)
        return cls(name, path, offset=stat.st_size, inode=stat.st_ino)

    def read_new(self) -> list[str]:
        """Complete lines appended since the last call (starting over when the file was rotated)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if stat.st_ino != self.inode or stat.st_size < self.offset:
            self.inode, self.offset, self.pending = stat.st_ino, 0, b""
        if stat.st_size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = self.pending + handle.read()
            self.offset = handle.tell()
        *complete, self.pending = data.split(b"\n")
        return [line.decode("utf-8", errors="replace") for line in complete]


def follow(paths: dict[str, Path], *, stop: Callable[[], bool] = lambda: False,
           interval: float = 0.25) -> Iterator[tuple[str, str]]:
    """Yield ``(name, line)`` for lines appended to any of ``paths`` from now on, until ``stop()``."""
    cursors = [_Cursor.at_end(name, path) for name, path in paths.items()]
    while not stop():
        idle = True
        for cursor in cursors:
            for line in cursor.read_new():
                idle = False
                yield cursor.name, line
        if idle:
            time.sleep(interval)


def _json(line: str) -> dict[str, object] | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "msg" in entry else None


def names(paths: Iterable[Path]) -> str:
    """The process names of ``paths``, for messages."""
    return ", ".join(path.stem for path in paths) or "none yet"
