"""``gravity users``: list, create and deactivate accounts through the API; create an admin directly."""

from __future__ import annotations

import uuid
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli import credentials
from gravity_cli.admin import ADMIN_ROLES, check_email, generate_password, read_secret_line
from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_sdk import Gravity, User

cli = typer.Typer(name="users", help="Manage user accounts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin",
                                             help="Read the password from stdin (default: generate one).")]
NameOption = Annotated[str | None, typer.Option("--name", help="Display name.", show_default=False)]


def _as_dict(user: User) -> dict[str, Any]:
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(user)
    return data


def _show_user(app: Application, user: dict[str, Any], password: str | None, json_output: bool) -> None:
    if app.wants_json(json_output):
        app.print_json({"user": user, "password": password})
        return
    app.print_text(f"{user['id']}  {user['email']}  roles: {', '.join(user.get('roles', []))}")
    if password is not None:
        app.print_text(f"password  {password}")
        app.warn("the password is shown only this once; it is stored nowhere")


@cli.command("list")
def list_users(
    ctx: typer.Context,
    q: Annotated[str | None, typer.Option("--q", "--search", help="Match email or name.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many.")] = 50,
    json_output: JsonOption = False,
) -> None:
    """List users, oldest first (needs an admin sign-in)."""
    from gravity_sdk import NOT_GIVEN

    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        page = client.users.list(q=q if q else NOT_GIVEN, limit=min(limit, 200))
        users = [_as_dict(user) for user in islice(page, limit)]
    if app.wants_json(json_output):
        app.print_json(users)
        return
    rows = [(u["id"], u["email"], u.get("display_name") or "", ",".join(u["roles"]),
             "yes" if u["is_active"] else "no", str(u["created_at"])[:19]) for u in users]
    app.print_table(["ID", "EMAIL", "NAME", "ROLES", "ACTIVE", "CREATED"], rows)
    if len(users) == limit:
        app.info(f"showing the first {limit}; raise --limit for more")


@cli.command()
def create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email of the new account.")],
    password_stdin: PasswordStdin = False,
    admin: Annotated[bool, typer.Option("--admin", help="Give the account the admin role.")] = False,
    name: NameOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an account through the API (with --admin, promote it: needs an admin sign-in)."""
    app = app_of(ctx)
    address = check_email(email)
    password = read_secret_line() if password_stdin else generate_password()
    with credentials.signed_in().client() as client:
        user = client.auth.register(email=address, password=password, display_name=name)
        if admin:
            user = client.users.set_roles(user.id, roles=sorted({*user.roles, *ADMIN_ROLES}))
    _show_user(app, _as_dict(user), None if password_stdin else password, json_output)


@cli.command("create-admin")
def create_admin(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Email of the new admin.")],
    password_stdin: PasswordStdin = False,
    name: NameOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an admin directly in the database (on a node host: needs the settings and the master key)."""
    from gravity_cli.admin import register_account
    from gravity_cli.config import load_settings

    app = app_of(ctx)
    address = check_email(email)
    password = read_secret_line() if password_stdin else generate_password()
    settings = load_settings()
    with app.status(f"Creating the admin {address}"):
        profile = app.run(register_account(settings, address, password, roles=ADMIN_ROLES, display_name=name))
    profile = {key: profile[key] for key in ("id", "email", "display_name", "roles", "is_active") if key in profile}
    _show_user(app, profile, None if password_stdin else password, json_output)


def _resolve(client: Gravity, who: str) -> str:
    """The ID of the user ``who`` names (an ID or an email)."""
    try:
        return str(uuid.UUID(who))
    except ValueError:
        pass
    address = check_email(who)
    for user in client.users.list(q=address, limit=50):
        if user.email.lower() == address:
            return user.id
    raise CLIError(f"no user with the email {address}")


@cli.command()
def deactivate(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER_ID_OR_EMAIL", help="The user's ID or email.")],
    json_output: JsonOption = False,
) -> None:
    """Deactivate an account: it can no longer sign in and its sessions end (needs an admin sign-in)."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        updated = client.users.update(_resolve(client, user), is_active=False)
    if app.wants_json(json_output):
        app.print_json(_as_dict(updated))
    else:
        app.success(f"Deactivated {updated.email} ({updated.id}); their sessions have ended.")
