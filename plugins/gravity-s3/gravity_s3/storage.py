"""The S3 storage backend: objects in one bucket, written in parts, read with ranged GETs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from gravity_platform.services.files.storage import ObjectMissingError, StorageError
from gravity_s3.buffers import PartBuffer
from gravity_s3.connection import MISSING_CODES, TRANSPORT_ERRORS, S3Connection, error_code, fail, translated
from gravity_s3.options import S3Options
from gravity_s3.uploads import ResumableUploads

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger("gravity.s3")

READ_CHUNK = 256 * 1024


class S3Storage:
    """A `StorageBackend` on an S3 bucket (AWS, SeaweedFS, MinIO, Ceph RGW, ...).

    Objects up to one part size go up in a single PUT; larger ones as a multipart upload, one part in memory at
    a time. Resumable uploads keep their state in the handle (see `gravity_s3.uploads`)."""

    name = "s3"

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.connection = S3Connection(options)
        self.uploads = ResumableUploads(options, self.connection)

    async def _client(self) -> S3Client:
        return await self.connection.client()

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store `key` from `chunks`; a failure (of the stream or of S3) leaves any earlier object as it was."""
        client = await self._client()
        target = self.options.object_key(key)
        buffer = PartBuffer(self.options.part_size)
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                buffer.add(chunk)
                while buffer.full():
                    if upload_id is None:
                        with translated("multipart upload start"):
                            created = await client.create_multipart_upload(Bucket=self.options.bucket, Key=target)
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(client, target, upload_id, len(parts) + 1,
                                                         buffer.take_part()))
            if upload_id is None:
                with translated("write"):
                    await client.put_object(Bucket=self.options.bucket, Key=target, Body=buffer.take_rest())
                return written
            if len(buffer):
                parts.append(await self._upload_part(client, target, upload_id, len(parts) + 1, buffer.take_rest()))
            with translated("multipart upload completion"):
                await client.complete_multipart_upload(
                    Bucket=self.options.bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self._abort_quietly(client, target, upload_id))
            raise
        return written

    async def _upload_part(self, client: S3Client, target: str, upload_id: str, number: int,
                           body: bytes) -> CompletedPartTypeDef:
        with translated("part upload"):
            answer = await client.upload_part(
                Bucket=self.options.bucket, Key=target, UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def _abort_quietly(self, client: S3Client, target: str, upload_id: str) -> None:
        try:
            await client.abort_multipart_upload(Bucket=self.options.bucket, Key=target, UploadId=upload_id)
        except (ClientError, *TRANSPORT_ERRORS) as error:
            log.warning("could not abort the multipart upload of %s: %s", target, error)

    async def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream `length` bytes of `key` from `start` with one ranged GET (nothing past the end of the object)."""
        if start < 0 or (length is not None and length < 0):
            raise ValueError("start and length must not be negative")
        if length == 0:
            if await self.size(key) is None:
                raise ObjectMissingError(key)
            return
        client = await self._client()
        ranged = start > 0 or length is not None
        byte_range = f"bytes={start}-{'' if length is None else start + length - 1}"
        try:
            if ranged:
                response = await client.get_object(Bucket=self.options.bucket, Key=self.options.object_key(key),
                                                   Range=byte_range)
            else:
                response = await client.get_object(Bucket=self.options.bucket, Key=self.options.object_key(key))
        except ClientError as error:
            code = error_code(error)
            if code in MISSING_CODES:
                raise ObjectMissingError(key) from error
            if code in {"InvalidRange", "416"} and await self.size(key) is not None:
                return  # `start` is at or past the end: nothing to read
            fail("read", error)
        except TRANSPORT_ERRORS as error:
            fail("read", error)
        async with response["Body"] as body:
            if ranged and not response.get("ContentRange"):
                raise StorageError("the S3 server ignored the Range header of a ranged read")
            with translated("read", key):
                async for chunk in body.iter_chunks(READ_CHUNK):
                    yield chunk

    async def delete(self, key: str) -> None:
        """Remove `key`; S3 answers the same for a missing key."""
        client = await self._client()
        with translated("delete"):
            await client.delete_object(Bucket=self.options.bucket, Key=self.options.object_key(key))

    async def size(self, key: str) -> int | None:
        """The stored size of `key` (a HEAD request), or None."""
        client = await self._client()
        try:
            with translated("size", key):
                head = await client.head_object(Bucket=self.options.bucket, Key=self.options.object_key(key))
        except ObjectMissingError:
            return None
        return head["ContentLength"]

    async def begin_upload(self, key: str) -> str:
        """Start a resumable upload (no S3 call until bytes arrive); return its first handle."""
        return self.uploads.begin()

    async def append_upload(self, key: str, handle: str, offset: int, chunks: AsyncIterable[bytes]) -> tuple[str, int]:
        """Append at `offset`: whole parts go to the multipart upload, the rest to a staged tail object."""
        return await self.uploads.append(key, handle, offset, chunks)

    async def complete_upload(self, key: str, handle: str) -> None:
        """Turn the finished resumable upload into `key`."""
        await self.uploads.complete(key, handle)

    async def abort_upload(self, key: str, handle: str) -> None:
        """Abort the multipart upload and delete the staged tail objects."""
        await self.uploads.abort(key, handle)

    async def close(self) -> None:
        """Close the S3 client."""
        await self.connection.close()
