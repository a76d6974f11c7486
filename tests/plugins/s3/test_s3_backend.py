"""What the S3 backend does beyond the common contract: ranged reads proven ranged, signed requests, handles that
survive replays, options, errors, and the plugin entry point."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gravity_s3 import S3Options, S3OptionsError, S3Storage
from gravity_s3.hooks import S3Hooks

from gravity_platform.kernel.plugins import discover, hook_manager
from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.files.settings import FilesSettings
from gravity_platform.services.files.storage import ObjectMissingError, StorageBackend, StorageError
from tests.plugins.s3.conftest import BUCKET, PART_SIZE
from tests.plugins.s3.proxy import CountingProxy
from tests.plugins.s3.s3servers import S3Server, free_ports
from tests.plugins.s3.streams import MIB, collect, digest, payload, pieces

SERVERS = ["moto_s3", "seaweedfs_s3"]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 server in turn."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
async def storage(server: S3Server) -> AsyncIterator[S3Storage]:
    """An S3 backend on a fresh prefix."""
    backend = S3Storage(S3Options.parse(
        server.options(BUCKET, prefix=f"s-{uuid.uuid4().hex[:12]}/", part_size=PART_SIZE, create_bucket=True)))
    yield backend
    await backend.close()


async def test_a_ranged_read_transfers_only_its_range(server: S3Server, storage: S3Storage) -> None:
    data = payload(2 * PART_SIZE + 3 * MIB, seed=10)
    await storage.write("objects/big", pieces(data, (1_048_576,)))
    async with CountingProxy(server.endpoint_url).running() as proxy:
        proxied = S3Storage(S3Options.parse(server.options(BUCKET, prefix=storage.options.prefix,
                                                           endpoint_url=proxy.url)))
        try:
            assert await collect(proxied.read("objects/big", 6 * MIB, 100)) == data[6 * MIB:6 * MIB + 100]
            ranged = proxy.downstream_bytes
            assert await digest(proxied.read("objects/big")) == hashlib.sha256(data).hexdigest()
            whole = proxy.downstream_bytes - ranged
        finally:
            await proxied.close()
    assert ranged < 16 * 1024, ranged
    assert whole >= len(data)


async def test_writes_and_reads_stream_in_bounded_memory(storage: S3Storage) -> None:
    size = 5 * PART_SIZE + 12_345
    hasher = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        for number in range(0, size, 256 * 1024):
            chunk = payload(min(256 * 1024, size - number), seed=number)
            hasher.update(chunk)
            yield chunk

    assert await storage.size("objects/streamed") is None  # loads botocore's S3 model before measuring
    tracemalloc.start()
    try:
        assert await storage.write("objects/streamed", generated()) == size
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert await digest(storage.read("objects/streamed")) == hasher.hexdigest()
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 4 * PART_SIZE < size, write_peak
    assert read_peak < PART_SIZE, read_peak


async def test_objects_live_under_the_prefix(server: S3Server, storage: S3Storage) -> None:
    await storage.write("a/b.bin", pieces(b"x"))
    listed = server.client().list_objects_v2(Bucket=BUCKET, Prefix=storage.options.prefix)
    assert [item["Key"] for item in listed["Contents"]] == [f"{storage.options.prefix}a/b.bin"]


async def test_an_unrecorded_append_does_not_spoil_the_handle_before_it(storage: S3Storage) -> None:
    first = payload(PART_SIZE - 10, seed=11)
    lost = payload(2 * PART_SIZE, seed=12)
    retried = payload(PART_SIZE + 77, seed=13)
    handle = await storage.begin_upload("objects/replayed")
    handle, offset = await storage.append_upload("objects/replayed", handle, 0, pieces(first))
    # This append's new handle never gets saved (the node died): the client retries from the old offset.
    await storage.append_upload("objects/replayed", handle, offset, pieces(lost))
    handle, offset = await storage.append_upload("objects/replayed", handle, offset, pieces(retried))
    await storage.complete_upload("objects/replayed", handle)
    assert await collect(storage.read("objects/replayed")) == first + retried


async def test_completing_twice_is_harmless(storage: S3Storage) -> None:
    for key, size in [("objects/twice-small", 1000), ("objects/twice-big", PART_SIZE + 1000)]:
        data = payload(size, seed=14)
        handle = await storage.begin_upload(key)
        handle, _ = await storage.append_upload(key, handle, 0, pieces(data))
        await storage.complete_upload(key, handle)
        await storage.complete_upload(key, handle)
        assert await collect(storage.read(key)) == data


async def test_a_handle_from_elsewhere_or_a_wrong_offset_is_refused(storage: S3Storage) -> None:
    for bad in ["uploads/0123.part", "{}", '{"v": 9, "token": "x", "part_size": 5242880}']:
        with pytest.raises(StorageError, match="handle"):
            await storage.append_upload("objects/x", bad, 0, pieces(b"data"))
    handle = await storage.begin_upload("objects/x")
    with pytest.raises(StorageError, match="holds 0 bytes"):
        await storage.append_upload("objects/x", handle, 5, pieces(b"data"))


async def test_wrong_credentials_are_a_storage_error_not_a_missing_object(seaweedfs_s3: S3Server) -> None:
    options = seaweedfs_s3.options(BUCKET, secret_access_key="not-the-secret")
    backend = S3Storage(S3Options.parse(options))
    try:
        with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
            await backend.write("objects/denied", pieces(b"no"))
        for attempt in (backend.size("objects/denied"), collect(backend.read("objects/denied"))):
            with pytest.raises(StorageError) as raised:
                await attempt
            assert not isinstance(raised.value, ObjectMissingError)
    finally:
        await backend.close()


async def test_an_unreachable_store_is_a_storage_error() -> None:
    port = free_ports(1)[0]
    backend = S3Storage(S3Options.parse({"bucket": "nowhere", "endpoint_url": f"http://127.0.0.1:{port}",
                                         "access_key_id": "k", "secret_access_key": "s", "max_attempts": 1}))
    try:
        with pytest.raises(StorageError, match="S3"):
            await backend.size("objects/any")
        with pytest.raises(StorageError):
            await collect(backend.read("objects/any"))
    finally:
        await backend.close()


def test_options_from_the_environment_are_converted() -> None:
    options = S3Options.parse({"bucket": "files", "part_size": "16777216", "create_bucket": "true",
                               "secret_access_key": "s3cr3t"})
    assert options.part_size == 16 * MIB
    assert options.create_bucket is True
    assert "s3cr3t" not in repr(options)


@pytest.mark.parametrize("bad", [
    {},
    {"bucket": "files", "part_size": 1024},
    {"bucket": "files", "prefix": "/absolute/"},
    {"bucket": "files", "endpoint": "typo"},
    {"bucket": "files", "addressing_style": "sideways"},
    {"bucket": "files", "endpoint_url": "10.0.0.5:8333"},
])
def test_bad_options_are_refused_with_the_reason(bad: dict[str, Any]) -> None:
    with pytest.raises(S3OptionsError, match="invalid S3 storage options: "):
        S3Options.parse(bad)


def test_the_plugin_is_found_through_its_entry_point(moto_s3: S3Server) -> None:
    _, hook_plugins = discover(allow=["s3"])
    assert [type(plugin) for plugin in hook_plugins] == [S3Hooks]
    manager = hook_manager(hook_plugins, [])
    backend = manager.hook.gravity_storage_backend(name="s3", options=moto_s3.options(BUCKET))
    assert isinstance(backend, S3Storage)
    assert isinstance(backend, StorageBackend)
    assert backend.options.endpoint_url == moto_s3.endpoint_url
    assert manager.hook.gravity_storage_backend(name="local", options={}) is None


def test_options_reach_the_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {"STORAGE": "s3", "STORAGE_OPTIONS__BUCKET": "env-bucket", "STORAGE_OPTIONS__PART_SIZE": "6291456",
                   "STORAGE_OPTIONS__SECRET_ACCESS_KEY": "from-env"}
    for name, value in environment.items():
        monkeypatch.setenv(f"GRAVITY_SERVICE__FILES__{name}", value)
    files = GravitySettings().for_service("files", FilesSettings)
    assert files.storage == "s3"
    options = S3Options.parse(files.storage_options)
    assert (options.bucket, options.part_size) == ("env-bucket", 6 * MIB)
    assert options.secret_access_key is not None and options.secret_access_key.get_secret_value() == "from-env"
