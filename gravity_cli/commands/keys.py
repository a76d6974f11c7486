"""``gravity keys``: the platform master key."""

from __future__ import annotations

from typing import Annotated

import typer

from gravity_cli.commands import app_of

cli = typer.Typer(name="keys", help="Manage the platform master key.", no_args_is_help=True)


@cli.command("rotate-master")
def rotate_master(
    ctx: typer.Context,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish a rotation that stopped midway (keep the key file's current key).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a new master key current: re-wrap every sealed secret and re-derive the database roles' passwords.

    The key file keeps the old key as retired (to open anything not yet re-wrapped). Restart every node
    afterwards so it reads the new key; on a deployed install, put the new key file in the vault too."""
    from gravity_cli.admin import check_database
    from gravity_cli.config import load_settings
    from gravity_platform.kernel.keyrotation import rotate_master_key
    from gravity_platform.kernel.node import build_node

    app = app_of(ctx)
    settings = load_settings()
    key_file = settings.resolved_master_key_file()
    if not yes and not resume and not typer.confirm(
            f"Rotate the master key in {key_file}? Running nodes must be restarted afterwards", err=True):
        raise typer.Exit(1)
    node = build_node(settings)
    with app.status("Rotating the master key"):
        app.run(check_database(settings.database.url))
        report = app.run(rotate_master_key(settings.database.url, node.services, key_file, resume=resume))
    if app.wants_json(json_output):
        app.print_json({"key_id": report.key_id, "retired": report.retired, "rewrapped": report.rewrapped})
        return
    app.print_table(["SERVICE", "RE-WRAPPED"], sorted(report.rewrapped.items()))
    app.info(f"the master key is now {report.key_id}; restart every node so it reads {key_file}")
