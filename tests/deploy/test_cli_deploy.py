"""``gravity deploy`` without hosts: init, host specs, event handling and the exit on failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gravity_cli import ansible_run
from gravity_cli.application import Application
from gravity_cli.commands import deploy
from gravity_cli.errors import CLIError

pytestmark = pytest.mark.deploy


def test_parse_host_takes_an_optional_private_address() -> None:
    """NAME=ADDRESS uses the address for both; NAME=ADDRESS/PRIVATE splits them."""
    assert deploy.parse_host("n1=203.0.113.5") == ("n1", "203.0.113.5", "203.0.113.5")
    assert deploy.parse_host("n1=203.0.113.5/10.0.0.5") == ("n1", "203.0.113.5", "10.0.0.5")
    with pytest.raises(CLIError):
        deploy.parse_host("203.0.113.5")


def test_init_writes_an_inventory_and_a_private_vault_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three hosts make a cluster in every engine group; the vault password file is 0600 and outside the dir."""
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    hosts = ["--host", "a=10.0.0.1", "--host", "b=10.0.0.2", "--host", "c=10.0.0.3"]
    result = CliRunner().invoke(deploy.cli, ["init", "--dir", str(tmp_path / "d"), *hosts])
    assert result.exit_code == 0, result.output
    inventory = (tmp_path / "d" / "hosts.ini").read_text()
    for group in ("[postgresql]\na\nb\nc", "[nats]\na\nb\nc", "[valkey]\na\nb\nc"):
        assert group in inventory
    assert "c ansible_host=10.0.0.3 gravity_private_address=10.0.0.3" in inventory
    password = tmp_path / "config" / "gravity" / "vault-password"
    assert oct(password.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(deploy.cli, ["init", "--dir", str(tmp_path / "d"), *hosts])
    assert again.exit_code != 0
    assert isinstance(again.exception, CLIError)


def test_init_wants_one_or_three_hosts(tmp_path: Path) -> None:
    """Two hosts are neither a single node nor a cluster."""
    result = CliRunner().invoke(
        deploy.cli, ["init", "--dir", str(tmp_path), "--host", "a=1.2.3.4", "--host", "b=1.2.3.5"]
    )
    assert isinstance(result.exception, CLIError)


@pytest.mark.parametrize("command", [["deploy", "check"], ["deploy", "upgrade"], ["backup", "list"],
                                     ["status", "--inventory"]])
def test_playbook_commands_want_an_inventory(tmp_path: Path, command: list[str]) -> None:
    """Every command that runs a playbook refuses a directory without hosts.ini in one line, exit 2."""
    from gravity_cli.cli import cli

    option = ["--inventory" if "backup" in command else "--dir", str(tmp_path)]
    result = CliRunner().invoke(cli, [*command, *(option if command[0] != "status" else [str(tmp_path)])])
    assert result.exit_code == 2, result.output
    assert "no inventory at" in result.output


def _events() -> list[dict[str, object]]:
    return [
        {"event": "playbook_on_task_start", "event_data": {"task": "Install things"}},
        {"event": "runner_on_ok", "event_data": {"host": "a", "task": "Install things", "res": {"changed": True}}},
        {
            "event": "runner_on_failed",
            "event_data": {"host": "b", "task": "Install things", "res": {"msg": "no\nmore"}},
        },
        {"event": "runner_on_failed", "event_data": {"host": "a", "ignore_errors": True, "res": {"msg": "fine"}}},
        {
            "event": "playbook_on_stats",
            "event_data": {"ok": {"a": 5, "b": 1}, "changed": {"a": 2}, "failures": {"b": 1}},
        },
    ]


def test_progress_follows_events_and_takes_the_recap_totals() -> None:
    """Failures keep host, task and first message line; ignored errors are not failures; the recap wins."""
    progress = ansible_run.Progress()
    for event in _events():
        assert progress.on_event(event) is True
    assert progress.failures == [("b", "Install things", "no")]
    assert progress.hosts["a"] == {"ok": 5, "changed": 2, "failed": 0, "unreachable": 0}
    assert progress.hosts["b"]["failed"] == 1


def test_report_exits_non_zero_naming_the_failing_host_and_task(capsys: pytest.CaptureFixture[str]) -> None:
    """A failed run prints the summary, then one error line with host and task, and exits 1."""
    progress = ansible_run.Progress()
    for event in _events():
        progress.on_event(event)
    with pytest.raises(typer.Exit) as exited:
        ansible_run.report(Application(), progress, json_output=False, check=False)
    assert exited.value.exit_code == 1
    assert "b: task 'Install things' failed: no" in " ".join(capsys.readouterr().err.split())


def _report(role: str, state: str = "running", *, node: int = 200, valkey: str = "slave") -> dict[str, object]:
    return {
        "node": {"status": node, "checks": {"accepting": node == 200}, "version": "1.0"},
        "edge": {"status": 200},
        "postgresql": {"patroni": True, "role": role, "state": state, "lag": 0, "members": 3},
        "nats": {"status": 200, "meta_leader": "a", "cluster_size": 3},
        "valkey": {"role": valkey},
    }


def test_status_judges_a_healthy_cluster_and_names_what_is_down() -> None:
    """One primary, replicas streaming, one Valkey master: healthy; a node down, a second primary or an
    unreachable host is a named problem."""
    from gravity_cli.inventory_status import judge

    healthy = judge({"a": _report("leader", valkey="master"), "b": _report("sync_standby", "streaming"),
                     "c": _report("replica")}, [])  # fmt: skip
    assert healthy.healthy, healthy.problems
    assert [host["postgresql"]["role"] for host in healthy.hosts] == ["primary", "sync_replica", "replica"]
    broken = judge({"a": _report("leader", valkey="master"), "b": _report("leader", node=503)}, ["c"])
    assert not broken.healthy
    assert broken.problems == ["c: unreachable", "b: node is down", "postgresql: 2 primaries"]
