"""One aiobotocore S3 client per backend, opened on first use (the hook that builds the backend is not async)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, NoReturn

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from gravity_platform.services.files.storage import ObjectMissingError, StorageError
from gravity_s3.options import S3Options

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger("gravity.s3")

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
NO_UPLOAD_CODES = frozenset({"NoSuchUpload", "404", "NotFound"})
BUCKET_MISSING_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def error_code(error: ClientError) -> str:
    """The S3 error code of a failed call (e.g. `NoSuchKey`), or the HTTP status when the body had none."""
    code = error.response.get("Error", {}).get("Code")
    if code:
        return str(code)
    return str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def fail(action: str, error: BaseException) -> NoReturn:
    """Raise the StorageError that stands for `error` during `action`."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message") or ""
        raise StorageError(f"S3 {action} failed: {error_code(error)} {message}".rstrip()) from error
    raise StorageError(f"S3 {action} failed: {type(error).__name__}: {error}") from error


@contextlib.contextmanager
def translated(action: str, key: str | None = None) -> Iterator[None]:
    """Turn botocore and transport errors into StorageError (ObjectMissingError for a missing `key`)."""
    try:
        yield
    except ClientError as error:
        if key is not None and error_code(error) in MISSING_CODES:
            raise ObjectMissingError(key) from error
        fail(action, error)
    except TRANSPORT_ERRORS as error:
        fail(action, error)


class S3Connection:
    """Opens the client lazily, once, on the running event loop, and creates the bucket if asked to."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self._client: S3Client | None = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    def _config(self) -> AioConfig:
        return AioConfig(
            signature_version="s3v4",
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            retries={"max_attempts": self.options.max_attempts, "mode": "standard"},
            max_pool_connections=self.options.max_connections,
            s3={"addressing_style": self.options.addressing_style},
            # Plain Content-MD5/SigV4 payload hashes only: not every S3-compatible store knows the newer checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    async def client(self) -> S3Client:
        """The open client (opened on the first call)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                secret = self.options.secret_access_key
                context = get_session().create_client(
                    "s3",
                    region_name=self.options.region,
                    endpoint_url=self.options.endpoint_url,
                    aws_access_key_id=self.options.access_key_id,
                    aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
                    config=self._config(),
                )
                with translated("connect"):
                    client = await self._stack.enter_async_context(context)
                if self.options.create_bucket:
                    try:
                        await self._ensure_bucket(client)
                    except BaseException:
                        await self._stack.aclose()
                        raise
                self._client = client
        return self._client

    async def _ensure_bucket(self, client: S3Client) -> None:
        bucket = self.options.bucket
        try:
            await client.head_bucket(Bucket=bucket)
            return
        except ClientError as error:
            if error_code(error) not in BUCKET_MISSING_CODES:
                fail("bucket check", error)
        except TRANSPORT_ERRORS as error:
            fail("bucket check", error)
        log.info("creating the S3 bucket %s", bucket)
        try:
            if self.options.region == "us-east-1":
                await client.create_bucket(Bucket=bucket)
            else:
                await client.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.options.region})  # type: ignore[typeddict-item]
        except ClientError as error:
            if error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                fail("bucket creation", error)
        except TRANSPORT_ERRORS as error:
            fail("bucket creation", error)

    async def close(self) -> None:
        """Close the client and its connection pool."""
        async with self._lock:
            self._client = None
            await self._stack.aclose()
