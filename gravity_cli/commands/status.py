"""``gravity status``: the installation as NATS, a node and PostgreSQL see it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli.commands import app_of
from gravity_cli.config import redact

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_cli.probes import Budget

cli = typer.Typer()


@cli.command()
def status(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", help="Node to check (default: public_url).",
                                            show_default=False)] = None,
    wait: Annotated[float, typer.Option("--wait", min=0.05, max=10, help="Seconds to collect NATS replies.")] = 0.5,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", help="A deployment's hosts.ini (or its directory): the health of every host, over SSH.",
        show_default=False)] = None,
) -> None:
    """Service instances (NATS micro services API), node readiness and the PostgreSQL connection budget.

    Exits 1 when NATS cannot be reached, and also (after the report) when the node or PostgreSQL cannot.
    With --inventory: every host of a deployment (node, edge, PostgreSQL role and lag, NATS, Valkey), gathered
    with Ansible; exits 1 when anything is down.
    """
    from gravity_cli import probes
    from gravity_cli.config import load_settings

    app = app_of(ctx)
    if inventory is not None:
        _deployment(app, inventory, json_output=json_output)
        return
    settings = load_settings()
    with app.status("Asking the services over NATS"):
        found = app.run(probes.instances(settings.nats.url, wait=wait))
    node = probes.node_health(url or settings.public_url)
    running = Counter(instance.service for instance in found)
    budget: Budget | None = None
    database_error = None
    try:
        budget = app.run(probes.connection_budget(
            settings.database.url, admin_reserve=settings.database.admin_reserve,
            pool_max=settings.database.pool_max, running=dict(running)))
    except Exception as exc:
        from gravity_cli.errors import describe

        database_error = describe(exc)
    report: dict[str, Any] = {
        "nats": redact(settings.nats.url),
        "services": {name: [i.to_dict() for i in found if i.service == name] for name in sorted(running)},
        "node": node,
        "postgres": budget.to_dict() if budget else {"reachable": False, "error": database_error},
    }
    if app.wants_json(json_output):
        app.print_json(report)
    else:
        _print(app, report, budget, database_error)
    if not node["ready"] or budget is None:
        raise typer.Exit(1)


def _print(app: Application, report: dict[str, Any], budget: Budget | None, database_error: str | None) -> None:
    rows = [(name, len(items), ", ".join(sorted({i["node"] for i in items})), items[0]["version"],
             sum(i["requests"] for i in items), sum(i["errors"] for i in items))
            for name, items in report["services"].items()]
    app.print_table(["SERVICE", "INSTANCES", "NODES", "VERSION", "REQUESTS", "ERRORS"], rows,
                    title=f"Services on {report['nats']}")
    if not rows:
        app.print_text("  no service instance answered")
    node = report["node"]
    if node["ready"]:
        state = "ready"
    elif node["reachable"]:
        state = f"not ready ({', '.join(k for k, ok in node['checks'].items() if not ok) or node['status']})"
    else:
        state = f"unreachable ({node['error']})"
    app.print_text(f"\nNode {node['url']}: {state}")
    if budget is None:
        app.print_text(f"\nPostgreSQL: unreachable ({database_error})")
        return
    allocated = "unlimited" if budget.allocated is None else str(budget.allocated)
    verdict = "within budget" if budget.ok else "OVER BUDGET"
    app.print_text(f"\nPostgreSQL connections: max {budget.max_connections}, reserved {budget.reserved}, "
                   f"admin reserve {budget.admin_reserve} -> {budget.available} for services; "
                   f"role limits total {allocated}: {verdict}", style=None if budget.ok else "bold red")
    app.print_table(["ROLE", "LIMIT", "IN USE", "POOLS MAY OPEN"],
                    [(r["role"], "none" if r["limit"] < 0 else r["limit"], r["in_use"], r["demand"])
                     for r in budget.roles])


def _deployment(app: Application, inventory: Path, *, json_output: bool) -> None:
    from gravity_cli.inventory_status import gather, print_health

    health = gather(app, inventory)
    if app.wants_json(json_output):
        app.print_json(health.to_dict())
    else:
        print_health(app, health)
    if not health.healthy:
        raise typer.Exit(1)
