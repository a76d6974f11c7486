"""The application object every command shares: the two consoles, the output mode, verbosity and ``abort``.

Messages (progress, notes, errors) go to stderr through :attr:`Application.console`; data goes to stdout,
as plain JSON with ``--json`` or as text and tables otherwise, so ``gravity users list --json | jq`` works.
Rich honours ``NO_COLOR`` and only colours terminals.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

T = TypeVar("T")

DEBUG_ENV = "GRAVITY_DEBUG"
_TRUE = frozenset({"1", "true", "yes", "on"})
_PIPE_WIDTH = 10_000


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to a true value (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def human_size(count: int) -> str:
    """A byte count for people: 512 B, 1.5 KiB, ... up to GiB."""
    size = float(count)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class Application:
    """Console output, the ``--json`` switch, verbosity and error exits, shared by every command.

    ``verbosity`` is ``-v`` count minus ``-q`` count: below 0 hides notes, below -1 hides warnings too;
    above 0 shows debug messages and the platform's log records.
    """

    def __init__(self, *, json_output: bool = False, verbosity: int = 0) -> None:
        self.json = json_output
        self.verbosity = verbosity
        self.debug_mode = env_flag(DEBUG_ENV)
        # NO_COLOR (no-color.org): Rich alone would drop colours but keep bold; plain text is what is asked for.
        styles: Any = None if os.environ.get("NO_COLOR") else "auto"
        self.console = Console(stderr=True, highlight=False, soft_wrap=True, color_system=styles)
        self.output = Console(highlight=False, soft_wrap=True, color_system=styles)

    def configure_logging(self) -> None:
        """Route the platform's log records to stderr, one line each: errors by default, more with ``-v``."""
        level = logging.ERROR - 10 * self.verbosity
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("gravity: %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(max(logging.DEBUG, min(logging.CRITICAL, level)))

    def wants_json(self, flag: bool = False) -> bool:
        """Whether to print JSON: the command's own ``--json`` or the global one."""
        return flag or self.json

    # Messages (stderr) -------------------------------------------------------------------------------------

    def info(self, message: str) -> None:
        """A note for the user (hidden by ``-q``)."""
        if self.verbosity >= 0:
            self.console.print(Text(message))

    def success(self, message: str) -> None:
        """A note that something worked (hidden by ``-q``)."""
        if self.verbosity >= 0:
            self.console.print(Text(message, style="green"))

    def warn(self, message: str) -> None:
        """A warning (hidden by ``-qq``)."""
        if self.verbosity >= -1:
            self.console.print(Text.assemble(("warning: ", "bold yellow"), message))

    def debug(self, message: str) -> None:
        """Detail shown only with ``-v``."""
        if self.verbosity > 0:
            self.console.print(Text(message, style="dim"))

    def error(self, message: str) -> None:
        """A one-line error (always shown)."""
        first_line = " ".join(message.split())
        self.console.print(Text.assemble(("error: ", "bold red"), first_line))

    def abort(self, message: str = "", code: int = 1) -> NoReturn:
        """Print ``message`` as a one-line error and exit with ``code`` (non-zero)."""
        if message:
            self.error(message)
        raise typer.Exit(code or 1)

    @contextmanager
    def status(self, message: str) -> Iterator[Any]:
        """A spinner on stderr while the block runs (a plain note when stderr is not a terminal)."""
        if self.verbosity < 0:
            yield None
        elif not self.console.is_terminal:
            self.info(message)
            yield None
        else:
            with self.console.status(Text(message)) as spinner:
                yield spinner

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question on the terminal; refuses (aborts) when there is no terminal to ask on."""
        if not sys.stdin.isatty():
            self.abort(f"{question} (no terminal to ask on; pass --yes)")
        return typer.confirm(question, default=False, err=True)

    # Data (stdout) -----------------------------------------------------------------------------------------

    def print_json(self, data: Any) -> None:
        """Write ``data`` as JSON to stdout (plain, never coloured, so it pipes cleanly)."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def print_text(self, text: str, style: str | None = None) -> None:
        """Write a line of data to stdout."""
        self.output.print(Text(text, style=style or ""))

    def print_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
        """Write rows as a table to stdout."""
        table = Table(*columns, title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
        for row in rows:
            table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
        if self.output.is_terminal:
            self.output.print(table)
            return
        # Piped output is for programs: never shorten a cell to fit an imaginary 80-column screen.
        Console(file=self.output.file, width=_PIPE_WIDTH, highlight=False, no_color=True).print(table)

    # Running -----------------------------------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T], *,
            loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> T:
        """Run a coroutine to completion (each command runs at most one event loop), on the event loop
        `loop_factory` makes (asyncio's default when None)."""
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(work)
