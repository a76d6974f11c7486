"""``python -m gravity_platform.devstack supervise --root DIR [--ports PG,NATS,VALKEY] [-- COMMAND...]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .endpoints import StackPorts
from .errors import StackError
from .paths import DEFAULT_ROOT_NAME, StackPaths
from .supervisor import supervise


def _ports(text: str) -> StackPorts:
    try:
        return StackPorts.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gravity_platform.devstack", description=__doc__)
    commands = parser.add_subparsers(dest="action", required=True)
    run = commands.add_parser("supervise", help="run the dev stack in the foreground until SIGTERM/SIGINT")
    run.add_argument("--root", type=Path, default=Path(DEFAULT_ROOT_NAME), help="project folder (default .gravity)")
    run.add_argument(
        "--ports", type=_ports, default=StackPorts(), help="postgres,nats,valkey (default 55432,54222,56379)"
    )
    run.add_argument("--no-durable", action="store_true", help="fsync off: faster, not crash safe (tests)")
    run.add_argument("command", nargs="*", help="after '--': a command to run as the managed process 'node'")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(supervise(StackPaths.at(args.root), args.ports, args.command, durable=not args.no_durable))
    except StackError as exc:
        print(f"gravity devstack: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
