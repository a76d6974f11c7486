"""``gravity dev sms``: read the text messages the dev outbox SMS provider kept instead of sending them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_platform.kernel.settings import GravitySettings

cli = typer.Typer(name="sms", help="Read the SMS outbox of the dev stack (messages kept instead of sent).",
                  invoke_without_command=True)

RootOption = Annotated[
    Path | None,
    typer.Option("--root", envvar="GRAVITY_PROJECT_DIR", help="Project folder (default ./.gravity).",
                 show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="At most this many, newest first.")]


def _settings(root: Path | None) -> GravitySettings:
    from gravity_cli.config import load_settings, with_dev_stack
    from gravity_platform.kernel.settings import GravitySettings

    return with_dev_stack(GravitySettings(project_dir=root)) if root is not None else load_settings()


def _read(app: Application, root: Path | None, *, limit: int = 50, entry: str | None = None) -> list[dict[str, Any]]:
    """The outbox entries, as plain data; a one-line CLIError when the database cannot be read."""
    import asyncpg
    import msgspec

    from gravity_platform.kernel.errors import NotFoundError
    from gravity_platform.services.sms.devoutbox import read_outbox

    settings = _settings(root)
    try:
        entries = app.run(read_outbox(settings, limit=limit, entry=entry))
    except NotFoundError as exc:
        raise CLIError(f"{exc.detail}: {entry}") from None
    except FileNotFoundError as exc:
        raise CLIError(f"no master key at {exc.filename}; is this a Gravity project (`gravity dev up`)?") from None
    except asyncpg.UndefinedTableError:
        raise CLIError("the sms service's tables do not exist yet; run `gravity migrate` or `gravity dev up`") from None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise CLIError(f"cannot read the SMS outbox from PostgreSQL ({exc}); is the dev stack running? "
                       "Start it with `gravity dev up`") from None
    data: list[dict[str, Any]] = msgspec.to_builtins(entries)
    return data


def _one_line(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@cli.callback()
def outbox(ctx: typer.Context, root: RootOption = None, json_output: JsonOption = False,
           limit: LimitOption = 20) -> None:
    """Without a subcommand: list the newest messages (like ``gravity dev sms list``)."""
    if ctx.invoked_subcommand is None:
        _list(app_of(ctx), root, json_output, limit)


@cli.command("list")
def list_messages(ctx: typer.Context, root: RootOption = None, json_output: JsonOption = False,
                  limit: LimitOption = 20) -> None:
    """List the newest messages in the outbox."""
    _list(app_of(ctx), root, json_output, limit)


def _list(app: Application, root: Path | None, json_output: bool, limit: int) -> None:
    entries = _read(app, root, limit=limit)
    if app.wants_json(json_output):
        app.print_json(entries)
        return
    if not entries:
        app.info("The SMS outbox is empty.")
        return
    rows = [(e["id"][:8], str(e["created_at"])[:19].replace("T", " "), e["to"], _one_line(e["body"]))
            for e in entries]
    app.print_table(["ID", "SENT", "TO", "BODY"], rows)
    app.info("`gravity dev sms show ID` prints a whole message.")


@cli.command()
def show(
    ctx: typer.Context,
    entry: Annotated[str, typer.Argument(metavar="ID", help="The outbox entry's or the message's ID (or a prefix).")],
    root: RootOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print one message from the outbox, body in full."""
    app = app_of(ctx)
    [found] = _read(app, root, entry=entry)
    if app.wants_json(json_output):
        app.print_json(found)
        return
    for label, key in (("id", "id"), ("message", "message_id"), ("sent", "created_at"), ("to", "to"),
                       ("from", "sender"), ("callback", "status_callback")):
        if found.get(key):
            app.print_text(f"{label + ':':<10}{found[key]}")
    app.print_text("")
    app.print_text(found["body"])
