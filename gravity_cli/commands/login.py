"""``gravity login``: sign in to a Gravity server and keep the session for the other commands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gravity_cli import credentials
from gravity_cli.admin import check_email, read_secret_line
from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

cli = typer.Typer()


def default_url() -> str:
    """The server signed in to last, else ``$GRAVITY_BASE_URL``, else this project's dev node."""
    import os

    from gravity_cli.devproject import DevProject

    try:
        stored = credentials.load()
    except CLIError:
        stored = None
    if stored is not None:
        return stored.base_url
    return os.environ.get("GRAVITY_BASE_URL") or DevProject.at().load_config().url


def _ask(prompt: str, *, hide: bool = False) -> str:
    if not sys.stdin.isatty():
        raise CLIError(f"no terminal to ask for the {prompt.lower()}; pass it as an option or on stdin", code=2)
    answer: str = typer.prompt(prompt, hide_input=hide, err=True)
    return answer


@cli.command()
def login(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", help="Server URL (default: the last one, else the dev node).",
                                            show_default=False)] = None,
    email: Annotated[str | None, typer.Option("--email", help="Account email (asked if missing).",
                                              show_default=False)] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin (and an MFA code from the next line).")] = False,
) -> None:
    """Sign in and store the session (0600) for `gravity users` and friends."""
    from gravity_sdk import APIStatusError, Gravity, MFARequiredError

    app = app_of(ctx)
    base_url = (url or default_url()).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise typer.BadParameter("must start with http:// or https://", param_hint="--url")
    address = check_email(email or _ask("Email"))
    password = read_secret_line() if password_stdin else _ask("Password", hide=True)
    with Gravity(base_url=base_url, max_retries=1) as client:
        try:
            try:
                client.auth.login(email=address, password=password)
            except MFARequiredError as required:
                code = read_secret_line("MFA code") if password_stdin else _ask("Authentication code")
                client.auth.complete_mfa(required.mfa_token, otp=code.strip())
        except APIStatusError as exc:
            if exc.status_code in (400, 401) and exc.error in ("invalid_grant", "invalid_client", "invalid_request"):
                raise CLIError(f"sign-in failed: {exc.error_description or exc.error}") from exc
            raise
        stored = credentials.Credentials(base_url, address).with_tokens(client.tokens)
    path = credentials.save(stored)
    app.success(f"Signed in to {base_url} as {address} (session saved in {path}).")
