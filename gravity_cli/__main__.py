"""Entry point of the ``gravity`` command (also ``python -m gravity_cli``)."""

from __future__ import annotations

import sys

from gravity_cli.cli import cli


def main() -> None:
    """Run the ``gravity`` command line; exits with the command's status.

    Commands report their own errors (see ``GravityGroup``); this only catches what fails before a command
    runs, so that even then the user gets one line rather than a traceback.
    """
    try:
        cli(prog_name="gravity")
    except Exception as exc:
        from gravity_cli.application import Application
        from gravity_cli.errors import describe

        app = Application()
        if app.debug_mode:
            app.console.print_exception()
        app.error(describe(exc))
        sys.exit(1)


if __name__ == "__main__":
    main()
