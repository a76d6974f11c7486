"""``gravity dev``: the whole platform on this machine, on embedded PostgreSQL, NATS and Valkey."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli.commands import app_of, devmail, devsms
from gravity_cli.config import redact
from gravity_cli.devproject import DevConfig, DevProject, port_is_free
from gravity_cli.errors import CLIError
from gravity_cli.logview import follow, log_files, names, render, tail
from gravity_platform.devstack import StackPorts

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_cli.devnode import FirstAdmin

cli = typer.Typer(name="dev", help="Run Gravity locally: up, down, status, logs, reset.", no_args_is_help=True)
cli.add_typer(devmail.cli)
cli.add_typer(devsms.cli)

DEFAULT_ADMIN_EMAIL = "admin@gravity.local"
RootOption = Annotated[
    Path | None,
    typer.Option("--root", envvar="GRAVITY_PROJECT_DIR", help="Project folder (default ./.gravity).",
                 show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _stack_ports(text: str | None, remembered: DevConfig) -> StackPorts:
    if text is None:
        return remembered.stack_ports
    if text.strip().lower() == "free":
        return StackPorts.free()
    try:
        return StackPorts.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stack-ports") from None


@cli.command()
def up(
    ctx: typer.Context,
    root: RootOption = None,
    port: Annotated[int | None, typer.Option("--port", "-p", envvar="GRAVITY_DEV_PORT", min=1, max=65535,
                                             help="Port of the node (default: the last one used, else 8080).",
                                             show_default=False)] = None,
    stack_ports: Annotated[str | None, typer.Option(
        "--stack-ports", envvar="GRAVITY_DEV_STACK_PORTS", metavar="PG,NATS,VALKEY[,MAIL]",
        help="Ports of the embedded servers, or 'free' (default: the last ones used, else 55432,54222,56379; "
             "the mail catcher takes a free port unless MAIL is given).",
        show_default=False)] = None,
    admin_email: Annotated[str, typer.Option("--admin-email", envvar="GRAVITY_DEV_ADMIN_EMAIL",
                                             help="Email of the first admin.")] = DEFAULT_ADMIN_EMAIL,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for readiness.")] = 90.0,
    json_output: JsonOption = False,
) -> None:
    """Start the platform: engines, one node with every service, and the first admin on first run."""
    from gravity_cli import devnode
    from gravity_cli.admin import check_email

    app = app_of(ctx)
    project = DevProject.at(root)
    remembered = project.load_config()
    config = DevConfig(port=port or remembered.port, stack_ports=_stack_ports(stack_ports, remembered))
    email = check_email(admin_email)
    running = project.state()
    if running is not None:
        _report(app, project, remembered, None, json_output, already=running.phase)
        return
    if not port_is_free(config.port):
        raise CLIError(f"port {config.port} on 127.0.0.1 is already in use; choose another with --port")
    began = time.monotonic()
    project.root.mkdir(parents=True, exist_ok=True)
    if devnode.ensure_master_key(project):
        app.debug(f"created the master key {project.master_key_file}")
    project.save_config(config)
    with app.status("Starting PostgreSQL, NATS and Valkey"):
        state = devnode.launch(project, config, timeout)
    with app.status(f"Starting the node on {config.url}"):
        devnode.wait_until_ready(project, config.url, timeout)
    with app.status("Checking for the first admin"):
        admin = devnode.ensure_first_admin(project, state, config, email)
    app.debug(f"up in {time.monotonic() - began:.1f} s")
    _report(app, project, config, admin, json_output)


def _report(app: Application, project: DevProject, config: DevConfig, admin: FirstAdmin | None,
            json_output: bool, already: str | None = None) -> None:
    record = project.admin_record() or {}
    if app.wants_json(json_output):
        app.print_json({
            "url": config.url, "docs": f"{config.url}/docs", "root": str(project.root),
            "already_running": already is not None,
            "admin": {"email": admin.email, "password": admin.password} if admin else None,
            "admin_email": record.get("email"),
        })
        return
    if already is not None:
        state_word = "already running" if already == "ready" else f"already {already}"
        app.info(f"The dev stack in {project.root} is {state_word}.")
    app.print_text(f"Gravity is running at {config.url}")
    app.print_text(f"  API docs  {config.url}/docs")
    app.print_text("  mail      caught, never delivered: `gravity dev mail`")
    if admin is not None:
        app.print_text(f"  admin     {admin.email}")
        app.print_text(f"  password  {admin.password}")
        app.warn("the admin password is shown only this once; it is stored nowhere")
    elif record.get("email"):
        app.print_text(f"  admin     {record['email']} (password shown when it was created)")
    app.info("Stop it with `gravity dev down`; follow the node's log with `gravity dev logs node -f`.")


@cli.command()
def down(ctx: typer.Context, root: RootOption = None) -> None:
    """Stop the platform; its data is kept for the next `gravity dev up`."""
    from gravity_platform.devstack import stop_supervisor

    app = app_of(ctx)
    project = DevProject.at(root)
    with app.status("Stopping the dev stack"):
        stopped = stop_supervisor(project.root)
    if stopped:
        app.success(f"Stopped the dev stack in {project.root} (data kept; `gravity dev reset` deletes it).")
    else:
        app.info(f"No dev stack is running in {project.root}.")


@cli.command()
def status(ctx: typer.Context, root: RootOption = None, json_output: JsonOption = False,
           show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Show passwords in URLs.")] = False,
           ) -> None:
    """Whether the platform runs, its processes, ports and URLs."""
    app = app_of(ctx)
    project = DevProject.at(root)
    state = project.state()
    config = project.load_config()
    report: dict[str, Any] = {"root": str(project.root), "running": state is not None}
    if state is not None:
        report |= {"state": state.phase, "pid": state.pid, "started_at": state.started_at, "url": config.url,
                   "ready": _ready(config.url), "processes": state.processes, "ports": state.ports.as_dict()}
        if state.endpoints is not None:
            shown = state.endpoints.to_dict() if show_secrets else {
                key: redact(value) for key, value in state.endpoints.to_dict().items() if key != "ports"}
            report["endpoints"] = {key: value for key, value in shown.items() if key != "ports"}
    if app.wants_json(json_output):
        app.print_json(report)
        return
    if state is None:
        app.print_text(f"not running ({project.root})")
        return
    readiness = "ready" if report["ready"] else "not ready"
    app.print_text(f"{state.phase} since {state.started_at}: {config.url} ({readiness}), supervisor pid {state.pid}")
    rows = [(name, pid) for name, pid in state.processes.items()]
    app.print_table(["PROCESS", "PID"], rows)
    for name, url in report.get("endpoints", {}).items():
        app.print_text(f"{name:<13} {url}")


def _ready(url: str) -> bool:
    import httpx2

    try:
        return httpx2.get(f"{url}/readyz", timeout=2.0).status_code == 200
    except httpx2.HTTPError:
        return False


@cli.command()
def logs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A process: node, postgres, nats, valkey, mail, supervisor.",
                                               show_default=False)] = None,
    root: RootOption = None,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many recent lines.")] = 50,
    raw: Annotated[bool, typer.Option("--raw", help="Print JSON log lines as they are.")] = False,
) -> None:
    """Show the logs of the stack's processes (all of them unless NAME is given)."""
    app = app_of(ctx)
    project = DevProject.at(root)
    files = log_files(project.logs)
    if name is not None:
        if name not in files:
            raise CLIError(f"no log named {name!r} in {project.logs} (available: {names(files.values())})", code=2)
        files = {name: files[name]}
    if not files:
        raise CLIError(f"no logs in {project.logs} yet; start the stack with `gravity dev up`")
    prefixed = len(files) > 1
    for process, path in files.items():
        if prefixed and not follow_:
            app.output.print(f"==> {process} <==", style="bold", markup=False)
        for line in tail(path, lines):
            app.output.print(render(line, raw=raw, prefix=process if prefixed and follow_ else None))
    if follow_:
        try:
            for process, line in follow(files):
                app.output.print(render(line, raw=raw, prefix=process if prefixed else None))
        except KeyboardInterrupt:
            return


@cli.command()
def reset(ctx: typer.Context, root: RootOption = None,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False) -> None:
    """Stop the platform and delete all its data, logs and secrets (the admin is created anew next time)."""
    from gravity_platform.devstack import reset as reset_stack

    app = app_of(ctx)
    project = DevProject.at(root)
    if not project.root.exists():
        app.info(f"Nothing to reset: {project.root} does not exist.")
        return
    if not yes and not app.confirm(f"Delete every user, file and setting of the dev stack in {project.root}?"):
        raise typer.Exit(1)
    with app.status("Resetting the dev stack"):
        reset_stack(project.root)
        project.forget()
    app.success(f"Reset {project.root}; `gravity dev up` starts afresh.")
