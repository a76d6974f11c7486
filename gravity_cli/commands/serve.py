"""``gravity serve``: run one node hosting some or all services."""

from __future__ import annotations

from typing import Annotated

import typer

from gravity_cli.commands import app_of

cli = typer.Typer()


@cli.command()
def serve(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(
        help="Services to host (default: every installed one).", show_default=False)] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default: gateway.host).",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        "--port", "-p", min=1, max=65535, show_default=False,
        help="Port (default: gateway.port with the gateway, else the first service's own port).")] = None,
    auto_migrate: Annotated[bool, typer.Option("--auto-migrate", help="Run migrations before serving.")] = False,
    drain_delay: Annotated[float, typer.Option(
        "--drain-delay", min=0, help="Seconds /readyz reports 503 before the listener closes on SIGTERM.")] = 2.0,
) -> None:
    """Run a node until SIGTERM/SIGINT, then drain; settings from gravity.toml and GRAVITY_* variables.
    The node runs on uvloop when it is installed."""
    from gravity_platform.kernel.server import event_loop_factory
    from gravity_platform.kernel.server import serve as serve_node
    from gravity_platform.kernel.settings import GravitySettings

    app = app_of(ctx)
    settings = GravitySettings()
    app.run(serve_node(settings, services or (), host=host, port=port, auto_migrate=auto_migrate,
                       drain_delay=drain_delay), loop_factory=event_loop_factory())
