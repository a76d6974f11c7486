"""``gravity backup``: take, list and restore the backups of a deployed installation.

The backups live on the inventory's ``backup_repository`` host (see the ``backup`` role): pgBackRest keeps
PostgreSQL's base backups and archived WAL, and NATS JetStream snapshots of the ``GRAVITY_*`` streams sit beside
them. These commands run the collection's ``backup.yml`` and ``restore.yml`` playbooks through ansible-runner,
with the same live progress, inventory, vault and wheelhouse as ``gravity deploy``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli import ansible_run
from gravity_cli.application import human_size
from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_cli.ansible_run import Progress
    from gravity_cli.application import Application

cli = typer.Typer(name="backup", help="Back up and restore a deployed installation (pgBackRest, NATS snapshots).")

InventoryOption = Annotated[
    Path,
    typer.Option("-i", "--inventory", "-d", "--dir", envvar="GRAVITY_DEPLOY_DIR",
                 help="The deployment directory (or its hosts.ini)."),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RESULT_TASKS = {"Take a backup now", "Describe the backups"}


def run_playbook(
    app: Application, inventory: Path, playbook: str, extravars: Mapping[str, Any]
) -> tuple[Progress, list[Any]]:
    """Run one of the collection's playbooks like ``gravity deploy`` does (exiting on a failed host); return the
    progress and the JSON documents the backup tool printed (in the task results named in ``RESULT_TASKS``)."""
    results: list[Any] = []

    def collect(event: Mapping[str, Any]) -> None:
        data = event.get("event_data", {})
        result = data.get("res")
        ours = event.get("event") == "runner_on_ok" and data.get("task") in RESULT_TASKS
        if ours and isinstance(result, dict) and result.get("stdout"):
            results.append(json.loads(result["stdout"]))

    progress = ansible_run.run_playbook(app, inventory, playbook, extravars=extravars, on_event=collect)
    if progress.failures or not progress.hosts:
        ansible_run.report(app, progress, json_output=False, check=False)  # exits naming the failing host and task
    return progress, results


def _one_result(results: list[Any]) -> Any:
    if not results:
        raise CLIError("the inventory has no backup_repository host (add one and run `gravity deploy`)")
    return results[0]


@cli.command("now")
def now(
    ctx: typer.Context,
    inventory: InventoryOption = Path("deploy"),
    kind: Annotated[str, typer.Option("--type", help="full, diff or incr.")] = "full",
    json_output: JsonOption = False,
) -> None:
    """Take a backup now (pgBackRest, then a snapshot of the NATS streams) and print its label."""
    app = app_of(ctx)
    if kind not in ("full", "diff", "incr"):
        raise CLIError("--type is full, diff or incr", code=2)
    started = time.monotonic()
    _, results = run_playbook(
        app, inventory, "backup.yml", {"backup_action": "now", "backup_now_type": kind}
    )
    taken = _one_result(results)
    if app.wants_json(json_output):
        app.print_json(taken)
        return
    app.print_text(taken["label"])
    app.success(f"{taken['type']} backup {taken['label']} and NATS snapshot {taken['nats_snapshot']} "
                f"taken in {time.monotonic() - started:.0f} s")  # fmt: skip


@cli.command("list")
def list_backups(
    ctx: typer.Context, inventory: InventoryOption = Path("deploy"), json_output: JsonOption = False
) -> None:
    """List the backups: pgBackRest's (label, type, times, sizes) and the NATS snapshots."""
    app = app_of(ctx)
    _, results = run_playbook(app, inventory, "backup.yml", {"backup_action": "list"})
    described = _one_result(results)
    if app.wants_json(json_output):
        app.print_json(described)
        return
    app.print_table(["LABEL", "TYPE", "STARTED", "FINISHED", "SIZE", "IN REPOSITORY"], [
        (b["label"], b["type"], _when(b["start"]), _when(b["stop"]), human_size(b["size"]),
         human_size(b["repository_size"]))
        for b in described["postgresql"]
    ], title="PostgreSQL (pgBackRest)")  # fmt: skip
    app.print_table(["SNAPSHOT", "TIME", "BACKUP", "STREAMS"], [
        (s["name"], s["time"][:19].replace("T", " "), s.get("label") or "",
         ", ".join(f"{x['name']} ({x['messages']} msgs, {human_size(x['bytes'])})" for x in s["streams"]))
        for s in described["nats"]
    ], title="NATS JetStream snapshots")  # fmt: skip


@cli.command("restore")
def restore(
    ctx: typer.Context,
    inventory: InventoryOption = Path("deploy"),
    to: Annotated[str | None, typer.Option("--to", help="Restore this backup label (to its end).")] = None,
    at: Annotated[str | None, typer.Option("--time", help="Restore to this point in time (ISO 8601).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Restore onto the inventory's database host (existing or fresh): stop the nodes, restore PostgreSQL and the
    NATS streams, start the nodes and wait for /readyz. Without --to or --time: to the latest archived WAL."""
    app = app_of(ctx)
    if to and at:
        raise CLIError("give --to or --time, not both", code=2)
    target = {"backup_restore_label": to or "", "backup_restore_time": _iso_time(at) if at else ""}
    directory = ansible_run.deployment_dir(inventory)
    if not yes and not app.confirm(f"Replace the data of the installation in {directory} with the backup?"):
        app.abort("not restored")
    started = time.monotonic()
    progress, _ = run_playbook(app, directory, "restore.yml", target)
    seconds = time.monotonic() - started
    if app.wants_json(json_output):
        app.print_json({"restored": to or at or "latest", "seconds": round(seconds, 1), "hosts": progress.hosts})
        return
    app.success(f"restored {to or at or 'the latest state'} in {seconds:.0f} s; every node answers /readyz")


def _iso_time(value: str) -> str:
    """An ISO 8601 time as pgBackRest wants it (``YYYY-MM-DD HH:MM:SS+00``), UTC when no offset is given."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CLIError(f"--time wants an ISO 8601 time, not {value!r}", code=2) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def _when(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
