"""The steps of ``gravity dev up``: start the supervised stack with a node in it, wait until the node is
ready, and create the first admin."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx2

from gravity_cli.devproject import DevConfig, DevProject
from gravity_cli.errors import CLIError
from gravity_cli.logview import last_problem

if TYPE_CHECKING:
    from gravity_platform.devstack import StackState
    from gravity_platform.kernel.settings import GravitySettings

NODE_COMMAND = [sys.executable, "-m", "gravity_cli", "serve", "--auto-migrate", "--drain-delay", "0"]
"""What the supervisor runs as its managed process ``node``: every service on one node, migrating first."""


@dataclass(frozen=True)
class FirstAdmin:
    """The admin ``dev up`` just created; the password exists only here and on the user's screen."""

    email: str
    password: str


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (the supervisor, and through it the node, inherits them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ensure_master_key(project: DevProject) -> bool:
    """Create the project's master key if it has none; True if one was created."""
    from gravity_platform.kernel.crypto import generate_master_key_file

    if project.master_key_file.exists():
        return False
    generate_master_key_file(project.master_key_file)
    return True


def launch(project: DevProject, config: DevConfig, timeout: float) -> StackState:
    """Start the supervisor with the node as its managed process; returns once the engines answer."""
    from gravity_platform.devstack import launch_supervisor

    with _environment(project.node_environment(config)):
        return launch_supervisor(project.root, ports=config.stack_ports, command=NODE_COMMAND, timeout=timeout)


def wait_until_ready(project: DevProject, url: str, timeout: float) -> None:
    """Poll ``url/readyz`` until it answers 200; a :class:`CLIError` if the node dies or takes too long."""
    deadline = time.monotonic() + timeout
    with httpx2.Client(timeout=2.0) as client:
        while True:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if project.state() is None:
                reason = last_problem(project.logs / "node.log") or "no log output"
                raise CLIError(f"the node stopped while starting ({reason}); see `gravity dev logs node`")
            if time.monotonic() > deadline:
                raise CLIError(
                    f"the node did not become ready at {url}/readyz within {timeout:.0f} s; see `gravity dev logs "
                    f"node` (the stack is still running: `gravity dev down` stops it)"
                )
            time.sleep(0.1)


def stack_settings(project: DevProject, state: StackState, config: DevConfig) -> GravitySettings:
    """Settings pointing at this project's running stack, as the dev node's own settings do."""
    from gravity_platform.kernel.settings import GravitySettings

    if state.endpoints is None:
        raise CLIError("the dev stack is not ready")
    endpoints = state.endpoints
    base = GravitySettings(
        environment="dev", project_dir=project.root, master_key_file=project.master_key_file, public_url=config.url
    )
    return base.model_copy(update={
        "database": base.database.model_copy(update={"url": endpoints.postgres_dsn}),
        "nats": base.nats.model_copy(update={"url": endpoints.nats_url}),
        "valkey": base.valkey.model_copy(update={"url": endpoints.valkey_url}),
    })


def ensure_first_admin(project: DevProject, state: StackState, config: DevConfig, email: str) -> FirstAdmin | None:
    """Create the first admin unless this project has one; returns it (with its password) if created now.

    If the email is taken already (the project's ``admin.json`` was lost), that account is kept as is.
    """
    import asyncio

    from gravity_cli.admin import ADMIN_ROLES, generate_password, register_account
    from gravity_platform.kernel.errors import ConflictError

    if project.admin_record() is not None:
        return None
    password = generate_password()
    settings = stack_settings(project, state, config)
    try:
        profile = asyncio.run(register_account(settings, email, password, roles=ADMIN_ROLES))
    except ConflictError:
        project.save_admin(email, None)
        return None
    project.save_admin(email, str(profile.get("id")))
    return FirstAdmin(email, password)
