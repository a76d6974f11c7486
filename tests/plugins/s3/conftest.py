"""Fixtures for the plugin tests: S3 servers for the session, and storage backends to run the conformance suite on."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gravity_s3 import S3Options, S3Storage

from gravity_platform.services.files.storage import StorageBackend
from tests.plugins.s3.s3servers import S3Server, moto_server, seaweedfs_server

MIB = 1024 * 1024
PART_SIZE = 5 * MIB
BUCKET = "gravity-conformance"


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server for the session."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS server with its S3 gateway (signed requests only) for the session."""
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@dataclass
class Subject:
    """A backend under test, how to open it again (as after a restart), and how to find what it left behind."""

    name: str
    storage: StorageBackend
    reopen: Callable[[], StorageBackend]
    leftovers: Callable[[], Awaitable[list[str]]]
    server: S3Server | None = None
    options: dict[str, Any] | None = None


def _s3_subject(server: S3Server, prefix: str, opened: list[StorageBackend]) -> Subject:
    options = server.options(BUCKET, prefix=prefix, part_size=PART_SIZE, create_bucket=True)

    def reopen() -> StorageBackend:
        storage = S3Storage(S3Options.parse(options))
        opened.append(storage)
        return storage

    async def leftovers() -> list[str]:
        probe = S3Storage(S3Options.parse(options))
        try:
            client = await probe.connection.client()
            uploads = await client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
            staged = await client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}.gravity-uploads/")
        finally:
            await probe.close()
        return ([f"upload:{item['Key']}" for item in uploads.get("Uploads", [])]
                + [f"staged:{item['Key']}" for item in staged.get("Contents", [])])

    return Subject(f"s3-{server.name}", reopen(), reopen, leftovers, server, options)


def _local_subject(root: Path, opened: list[StorageBackend]) -> Subject:
    try:
        local = importlib.import_module("gravity_platform.services.files.local")
    except ImportError:
        pytest.skip("gravity_platform.services.files.local.LocalStorage does not exist yet")

    def reopen() -> StorageBackend:
        storage: StorageBackend = local.LocalStorage(root)
        opened.append(storage)
        return storage

    async def leftovers() -> list[str]:
        return [str(path.relative_to(root)) for folder in ("uploads", "tmp") if (root / folder).is_dir()
                for path in (root / folder).rglob("*") if path.is_file()]

    return Subject("local", reopen(), reopen, leftovers)


@pytest.fixture(params=["s3-moto", "s3-seaweedfs", "local"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    """Each storage backend in turn, on a fresh prefix (S3) or folder (local)."""
    opened: list[StorageBackend] = []
    if request.param == "local":
        made = _local_subject(tmp_path / "files", opened)
    else:
        server = request.getfixturevalue("moto_s3" if request.param == "s3-moto" else "seaweedfs_s3")
        made = _s3_subject(server, f"t-{uuid.uuid4().hex[:12]}/", opened)
    try:
        yield made
    finally:
        for storage in opened:
            await storage.close()
