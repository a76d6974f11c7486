"""One module per command or command group; each exposes a ``typer.Typer`` registered with ``add_typer``."""

from __future__ import annotations

import typer

from gravity_cli.application import Application


def app_of(ctx: typer.Context) -> Application:
    """The shared :class:`Application` the root command put on the context."""
    root = ctx.find_root()
    if not isinstance(root.obj, Application):
        root.obj = Application()
    return root.obj
