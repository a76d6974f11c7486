"""Parts of the dev stack that need no running server."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gravity_platform.devstack import StackPorts, StackState, load_state, read_state, stop_supervisor
from gravity_platform.devstack.credentials import StackSecrets
from gravity_platform.devstack.endpoints import StackEndpoints
from gravity_platform.devstack.privileges import postgres_identity
from gravity_platform.devstack.state import write_state


def test_ports_parse_and_validate() -> None:
    assert StackPorts.parse("1,2,3") == StackPorts(postgres=1, nats=2, valkey=3)
    assert StackPorts.parse(StackPorts().as_arg()) == StackPorts(postgres=55432, nats=54222, valkey=56379)
    for bad in ("1,2", "a,b,c", "1,2,70000"):
        with pytest.raises(ValueError, match="port"):
            StackPorts.parse(bad)
    with pytest.raises(ValueError, match="differ"):
        StackPorts(postgres=1, nats=1, valkey=2)


def test_endpoints_carry_credentials_but_do_not_print_them() -> None:
    secrets = StackSecrets(postgres_password="p/w", nats_password="n", valkey_password="v")
    endpoints = StackEndpoints.build(StackPorts(), secrets)
    assert endpoints.postgres_dsn == "postgresql://postgres:p%2Fw@127.0.0.1:55432/gravity"
    assert endpoints.nats_url == "nats://gravity:n@127.0.0.1:54222"
    assert endpoints.valkey_url == "valkey://:v@127.0.0.1:56379/0"
    assert "p%2Fw" not in repr(endpoints)
    assert "p/w" not in repr(secrets)
    assert StackEndpoints.from_dict(endpoints.to_dict()) == endpoints


def test_state_of_a_dead_supervisor_is_stale(tmp_path: Path) -> None:
    secrets = StackSecrets(postgres_password="p", nats_password="n", valkey_password="v")
    state = StackState.begin(tmp_path, StackPorts()).advance(
        "ready", endpoints=StackEndpoints.build(StackPorts(), secrets), processes={"postgres": 1}
    )
    write_state(state)
    assert load_state(tmp_path) == state
    assert (tmp_path / "stack.json").stat().st_mode & 0o777 == 0o600
    assert read_state(tmp_path) is None
    assert stop_supervisor(tmp_path) is False
    assert load_state(tmp_path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches PostgreSQL's user")
def test_postgres_user_is_the_project_owner_when_it_has_an_account(tmp_path: Path) -> None:
    owned, orphaned = tmp_path / "owned", tmp_path / "orphaned"
    owned.mkdir()
    orphaned.mkdir()
    os.chown(owned, 1, 1)
    os.chown(orphaned, 54321, 54321)
    owner = postgres_identity(project_dirs=[owned], must_reach=[])
    fallback = postgres_identity(project_dirs=[orphaned, tmp_path], must_reach=[tmp_path])
    assert owner is not None
    assert fallback is not None
    assert (owner.uid, fallback.user) == (1, "nobody")
    assert fallback.blocked_at is not None
    assert fallback.command_prefix(signal.SIGINT)[-1] == "--pdeathsig=INT"
