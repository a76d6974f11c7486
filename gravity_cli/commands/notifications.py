"""``gravity notifications``: manage templates and send notifications (needs an admin sign-in)."""

from __future__ import annotations

import json
import sys
import tomllib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli import credentials
from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_sdk import Gravity

cli = typer.Typer(name="notifications", help="Notification templates and sends.", no_args_is_help=True)
templates_cli = typer.Typer(name="templates", help="List, save and show notification templates.",
                            no_args_is_help=True)
cli.add_typer(templates_cli)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LocaleOption = Annotated[str | None, typer.Option("--locale", help="Template locale, e.g. fr or pt-BR.",
                                                  show_default=False)]
CHANNEL_NAMES = ("email", "sms", "push", "inapp")


def _builtins(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


def read_template_file(path: str) -> dict[str, Any]:
    """A template document (JSON, or TOML for a `.toml` file; `-` reads JSON from stdin): `{"channels": {...},
    "category"?, "description"?, "locale"?}`, or just the channels mapping."""
    try:
        if path == "-":
            document = json.loads(sys.stdin.read())
        elif path.endswith(".toml"):
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        else:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CLIError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise CLIError(f"{path} is not a valid template document: {error}") from None
    if not isinstance(document, dict):
        raise CLIError(f"{path} must hold an object")
    if "channels" not in document and set(document) <= set(CHANNEL_NAMES):
        document = {"channels": document}
    return document


@templates_cli.command("ls")
def list_templates(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List templates (the latest version of each name and locale)."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        templates = client.notifications.templates.list()
    if app.wants_json(json_output):
        app.print_json(_builtins(templates))
        return
    rows = [(t.name, t.locale or "-", str(t.version), t.category,
             ",".join(c for c in CHANNEL_NAMES if getattr(t.channels, c) is not None), str(t.created_at)[:19])
            for t in templates]
    app.print_table(["NAME", "LOCALE", "VERSION", "CATEGORY", "CHANNELS", "SAVED"], rows)


@templates_cli.command("put")
def put_template(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name (lower case, digits, . _ -).")],
    file: Annotated[str, typer.Option("--file", "-f", help="JSON or TOML template document; - for stdin.")],
    locale: LocaleOption = None,
    category: Annotated[str | None, typer.Option("--category", help="Category for preferences.",
                                                 show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Save a template from a file; each save adds a version (sends pin the version they used)."""
    from gravity_sdk import NOT_GIVEN

    app = app_of(ctx)
    document = read_template_file(file)
    chosen_locale = locale if locale is not None else document.get("locale", NOT_GIVEN)
    chosen_category = category if category is not None else document.get("category", NOT_GIVEN)
    with credentials.signed_in().client() as client:
        saved = client.notifications.templates.put(
            name, channels=document["channels"], locale=chosen_locale, category=chosen_category,
            description=document.get("description", NOT_GIVEN))
    if app.wants_json(json_output):
        app.print_json(_builtins(saved))
    else:
        app.success(f"Saved {saved.name}{' (' + saved.locale + ')' if saved.locale else ''} version {saved.version}")


@templates_cli.command("show")
def show_template(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name.")],
    locale: LocaleOption = None,
    version: Annotated[int | None, typer.Option("--version", min=1, help="A past version (default: latest).",
                                                show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Show one version of a template."""
    from gravity_sdk import NOT_GIVEN

    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        template = client.notifications.templates.get(
            name, locale=locale if locale is not None else NOT_GIVEN,
            version=version if version is not None else NOT_GIVEN)
    data = _builtins(template)
    if app.wants_json(json_output):
        app.print_json(data)
        return
    app.print_text(f"{template.name}  locale: {template.locale or '-'}  version: {template.version}  "
                   f"category: {template.category}")
    for channel, fields in data["channels"].items():
        for field, source in fields.items():
            if source is not None:
                app.print_text(f"[{channel}.{field}]", style="bold")
                app.print_text(source)


def _parse_vars(pairs: list[str], data: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if data:
        try:
            loaded = json.loads(data)
        except ValueError as error:
            raise CLIError(f"--data is not JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise CLIError("--data must be a JSON object")
        values.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--var takes KEY=VALUE, not {pair!r}")
        values[key] = value
    return values


def _user_id(client: Gravity, who: str) -> str:
    try:
        return str(uuid.UUID(who))
    except ValueError:
        pass
    address = who.strip().lower()
    for user in client.users.list(q=address, limit=50):
        if user.email.lower() == address:
            return user.id
    raise CLIError(f"no user with the email {address}")


@cli.command()
def send(
    ctx: typer.Context,
    template: Annotated[str, typer.Option("--template", "-t", help="Template name.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient: user ID or email (repeatable).")],
    var: Annotated[list[str] | None, typer.Option("--var", help="Template variable KEY=VALUE (repeatable).",
                                                  show_default=False)] = None,
    data: Annotated[str | None, typer.Option("--data", help="Template variables as a JSON object.",
                                             show_default=False)] = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).",
                                                      show_default=False)] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Repeat-safe key "
                                                        "(default: a new one).", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Send a notification; each recipient gets it on the channels they allow."""
    from gravity_sdk import NOT_GIVEN

    app = app_of(ctx)
    unknown = [c for c in channel or [] if c not in CHANNEL_NAMES]
    if unknown:
        raise CLIError(f"unknown channel(s): {', '.join(unknown)} (use {', '.join(CHANNEL_NAMES)})", code=2)
    values = _parse_vars(var or [], data)
    with credentials.signed_in().client() as client:
        recipients = [_user_id(client, who) for who in to]
        result = client.notifications.send(
            template=template, user_ids=recipients, data=values,
            channels=list(channel) if channel else NOT_GIVEN,  # type: ignore[arg-type]
            idempotency_key=idempotency_key or NOT_GIVEN)
    _show_notifications(app, _builtins(result.notifications), json_output)


@cli.command()
def status(
    ctx: typer.Context,
    notification_id: Annotated[str, typer.Argument(help="The notification's ID.")],
    json_output: JsonOption = False,
) -> None:
    """Show where each channel of a notification stands (status, attempts, last error)."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        found = client.notifications.get(notification_id)
    _show_notifications(app, [_builtins(found)], json_output)


def _show_notifications(app: Any, notifications: list[dict[str, Any]], json_output: bool) -> None:
    if app.wants_json(json_output):
        app.print_json(notifications)
        return
    rows = [(n["id"], n["user_id"], f"{n['template']} v{n['template_version']}", d["channel"], d["status"],
             str(d["attempts"]), d["last_error"] or "")
            for n in notifications for d in n["deliveries"]]
    app.print_table(["NOTIFICATION", "USER", "TEMPLATE", "CHANNEL", "STATUS", "ATTEMPTS", "LAST ERROR"], rows)
