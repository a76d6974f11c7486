"""``gravity migrate``: provision each service's schema and role and run its migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from gravity_cli.commands import app_of

cli = typer.Typer()


@cli.command()
def migrate(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(
        help="Services to migrate (default: every installed one).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bring the database up to date (once per cluster, under a lock; safe to repeat)."""
    from gravity_cli.admin import check_database
    from gravity_cli.config import load_settings
    from gravity_platform.kernel.db import parse_dsn
    from gravity_platform.kernel.migrations import migrate as run_migrations
    from gravity_platform.kernel.node import build_node

    app = app_of(ctx)
    settings = load_settings()
    node = build_node(settings, services or ())
    target = parse_dsn(settings.database.url)
    where = f"{target['host']}:{target['port']}/{target['database']}"
    with app.status(f"Migrating {', '.join(s.name for s in node.services)} on {where}"):
        app.run(check_database(settings.database.url))
        reports = app.run(run_migrations(settings.database.url, node.services, node.master_key))
    if app.wants_json(json_output):
        app.print_json([{"service": r.service, "applied": r.applied} for r in reports])
        return
    app.print_table(["SERVICE", "APPLIED"], [(r.service, ", ".join(r.applied) or "up to date") for r in reports])
