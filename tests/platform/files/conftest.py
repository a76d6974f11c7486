"""Fixtures of the files tests: a node with small limits, and helpers to upload."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.harness import RunningNode
from tests.platform.support import node_with

SMALL_FILE_LIMIT = 4096
SMALL_QUOTA = 10_000


@pytest.fixture(scope="module")
async def small_node(stack: StackEndpoints, key_file: Path, settings: GravitySettings) -> AsyncIterator[RunningNode]:
    """A node whose files service allows 4 KiB per file and 10 kB per user."""
    files = {"max_file_size": SMALL_FILE_LIMIT, "quota_bytes": SMALL_QUOTA}
    async with node_with(stack, key_file, service={"files": files}) as running:
        yield running


@pytest.fixture(scope="module")
async def second_node(stack: StackEndpoints, key_file: Path, settings: GravitySettings) -> AsyncIterator[RunningNode]:
    """Another node hosting only the files service, on the same database and disk as the session node."""
    async with node_with(stack, key_file, services=("files",)) as running:
        yield running


@pytest.fixture
async def small(small_node: RunningNode) -> AsyncIterator[httpx2.AsyncClient]:
    async with small_node.client() as client:
        yield client


async def upload(http: httpx2.AsyncClient, headers: dict[str, str], data: bytes, name: str = "notes.txt",
                 **extra: Any) -> httpx2.Response:
    """A raw-body upload."""
    return await http.post("/api/v1/files", params={"name": name}, content=data,
                           headers={**headers, "Content-Type": extra.pop("content_type", "application/octet-stream")},
                           **extra)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
