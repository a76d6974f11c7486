"""``gravity auth``: operator actions of the auth service."""

from __future__ import annotations

from typing import Annotated

import typer

from gravity_cli.commands import app_of

cli = typer.Typer(name="auth", help="Operate the auth service.", no_args_is_help=True)


@cli.command("rotate-keys")
def rotate_keys(ctx: typer.Context,
                json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Rotate the JWT signing keys and print the new key ID (tokens of retired keys stop working)."""
    from gravity_cli.admin import rotate_signing_keys
    from gravity_cli.config import load_settings

    app = app_of(ctx)
    settings = load_settings()
    with app.status("Rotating the signing keys"):
        kid, announced = app.run(rotate_signing_keys(settings))
    if not announced:
        app.warn("NATS could not be reached: running nodes pick up the new keys when their JWKS cache expires")
    if app.wants_json(json_output):
        app.print_json({"kid": kid, "announced": announced})
    else:
        app.print_text(kid)
