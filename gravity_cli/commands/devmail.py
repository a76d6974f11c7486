"""``gravity dev mail``: read the mail the dev stack's mail catcher caught (from its folder; no node needed)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gravity_cli.commands import app_of
from gravity_cli.devproject import DevProject
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_platform.devstack.mailbox import CaughtMail, Mailbox

cli = typer.Typer(name="mail", help="Read the mail caught in development: list, show.")

RootOption = Annotated[
    Path | None,
    typer.Option("--root", envvar="GRAVITY_PROJECT_DIR", help="Project folder (default ./.gravity).",
                 show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LATEST = "latest"
FOLLOW_INTERVAL = 0.5


def _mailbox(root: Path | None) -> Mailbox:
    from gravity_platform.devstack.mailbox import mailbox_of

    return mailbox_of(DevProject.at(root).root)


def _row(mail: CaughtMail) -> list[str]:
    return [mail.id, mail.received_at.strftime("%Y-%m-%d %H:%M:%S"), mail.sender, ", ".join(mail.to), mail.subject]


def _print(app: Application, mails: list[CaughtMail], json_output: bool) -> None:
    if app.wants_json(json_output):
        app.print_json([mail.summary() for mail in mails])
    elif mails:
        app.print_table(["ID", "RECEIVED (UTC)", "FROM", "TO", "SUBJECT"], [_row(mail) for mail in mails])


def _print_arrival(app: Application, mail: CaughtMail, json_output: bool) -> None:
    if app.wants_json(json_output):
        sys.stdout.write(json.dumps(mail.summary(), default=str) + "\n")
        sys.stdout.flush()
    else:
        app.print_text("  ".join(_row(mail)))


@cli.callback(invoke_without_command=True)
def mail(
    ctx: typer.Context,
    root: RootOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many of the newest messages.")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing mail as it arrives.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the newest caught mail, oldest first (`gravity dev mail show ID` prints one message)."""
    if ctx.invoked_subcommand is not None:
        return
    app = app_of(ctx)
    mailbox = _mailbox(root)
    mails = mailbox.list(limit=limit)
    if not mails and not follow:
        app.info(f"No mail caught yet in {mailbox.folder}.")
    _print(app, mails, json_output)
    if follow:
        _follow(app, mailbox, {mail.id for mail in mailbox.list()}, json_output)


def _follow(app: Application, mailbox: Mailbox, seen: set[str], json_output: bool) -> None:
    """Print each new message as it arrives (one JSON document per line with --json), until Ctrl-C."""
    try:
        while True:
            time.sleep(FOLLOW_INTERVAL)
            fresh = [message_id for message_id in mailbox.ids() if message_id not in seen]
            for message_id in fresh:
                seen.add(message_id)
                found = mailbox.get(message_id)
                if found is not None:
                    _print_arrival(app, found, json_output)
    except KeyboardInterrupt:
        return


@cli.command()
def show(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(metavar="ID", help="A message ID from `gravity dev mail`, or 'latest'.")],
    root: RootOption = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the text.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the message exactly as received.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Print one caught message: its headers and its text (or HTML) body."""
    app = app_of(ctx)
    mailbox = _mailbox(root)
    if message_id == LATEST:
        ids = mailbox.ids()
        if not ids:
            raise CLIError(f"no mail caught yet in {mailbox.folder}")
        message_id = ids[-1]
    found = mailbox.get(message_id)
    if found is None:
        raise CLIError(f"no caught message {message_id!r} in {mailbox.folder} (see `gravity dev mail`)")
    if raw:
        sys.stdout.write((mailbox.raw(message_id) or b"").decode(errors="replace"))
        return
    if app.wants_json(json_output):
        app.print_json(found.details())
        return
    for name in ("From", "To", "Subject", "Date", "Message-ID", "Reply-To"):
        if found.message.get(name) is not None:
            app.print_text(f"{name}: {found.message[name]}")
    app.print_text("")
    body = found.body("html") if html else found.body("plain")
    if body is None:
        app.info(f"the message has no {'HTML' if html else 'text'} part")
        return
    app.output.print(body, markup=False, highlight=False, end="")
