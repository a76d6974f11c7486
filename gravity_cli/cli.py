"""The root of the ``gravity`` command: global options, the shared application, every command group."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gravity_cli import __version__
from gravity_cli.application import Application
from gravity_cli.commands import (
    app_of,
    auth,
    backup,
    deploy,
    dev,
    files,
    keys,
    login,
    migrate,
    notifications,
    openapi,
    serve,
    status,
    users,
)
from gravity_cli.errors import CLIError, describe


class GravityGroup(TyperGroup):
    """The root group: any exception a command lets escape becomes a one-line error and a non-zero exit."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            app = app_of(ctx)
            if app.debug_mode:
                app.console.print_exception()
            app.error(describe(exc))
            raise typer.Exit(exc.code if isinstance(exc, CLIError) else 1) from None


cli = typer.Typer(
    name="gravity",
    cls=GravityGroup,
    help="Run Gravity locally, serve nodes and operate an installation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gravity {__version__}")
        raise typer.Exit()


@cli.callback()
def root(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", envvar="GRAVITY_JSON", help="Print data as JSON (every command that lists).")
    ] = False,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, envvar="GRAVITY_VERBOSE", help="More detail (repeatable).")
    ] = 0,
    quiet: Annotated[
        int, typer.Option("-q", "--quiet", count=True, envvar="GRAVITY_QUIET", help="Less output (repeatable).")
    ] = 0,
    config: Annotated[
        Path | None,
        typer.Option("-c", "--config", envvar="GRAVITY_CONFIG", help="Settings file (default ./gravity.toml)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Run Gravity locally, serve nodes and operate an installation.

    Global options can also be set as GRAVITY_JSON, GRAVITY_VERBOSE, GRAVITY_QUIET and GRAVITY_CONFIG;
    GRAVITY_DEBUG=1 shows tracebacks.
    """
    del version
    if config is not None:
        if not config.is_file():
            raise CLIError(f"no settings file at {config}", code=2)
        os.environ["GRAVITY_CONFIG"] = str(config)
    app = Application(json_output=json_output, verbosity=verbose - quiet)
    app.configure_logging()
    ctx.obj = app


for group in (dev, serve, migrate, status, login, users, auth, keys, openapi, deploy, backup, notifications, files):
    cli.add_typer(group.cli)
