"""Resumable (tus) uploads on S3, any piece size, any node, across restarts.

S3 multipart parts must be at least 5 MiB (except the last), but a tus PATCH may carry a single byte. So the
state of an upload is: the multipart upload (created once a whole part has arrived) with `parts` parts of
`part_size` bytes each, plus a *tail* object under the staging prefix holding the bytes after the last whole part.
All of it lives in the handle, a short JSON string the files service stores and passes back.

An append never changes what the handle it was given points at: new parts get part numbers past the handle's,
and the new tail is a new object. So when an append fails, or its new handle is never saved, the old handle
still describes a consistent upload. The tail the previous handle used is deleted one append later, and
completing or aborting deletes every staged object of the upload."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import msgspec
from botocore.exceptions import ClientError

from gravity_platform.services.files.storage import ObjectMissingError, StorageError
from gravity_s3.buffers import PartBuffer
from gravity_s3.connection import NO_UPLOAD_CODES, TRANSPORT_ERRORS, S3Connection, error_code, fail, translated
from gravity_s3.options import S3Options

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger("gravity.s3")

HANDLE_VERSION = 1


class UploadGoneError(StorageError):
    """The multipart upload or a staged tail the handle names no longer exists."""


class UploadState(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What a handle says about a resumable upload."""

    v: int
    token: str
    part_size: int
    upload_id: str | None = None
    parts: int = 0
    tail: str | None = None
    tail_size: int = 0
    previous_tail: str | None = None

    @property
    def offset(self) -> int:
        """The bytes received so far."""
        return self.parts * self.part_size + self.tail_size

    def encode(self) -> str:
        """The handle."""
        return msgspec.json.encode(self).decode()

    @classmethod
    def decode(cls, handle: str) -> UploadState:
        """Read a handle back (StorageError when it is not one of ours)."""
        try:
            state = msgspec.json.decode(handle, type=cls)
        except msgspec.DecodeError as error:
            raise StorageError(f"not an S3 upload handle: {error}") from None
        if state.v != HANDLE_VERSION or state.parts < 0 or not 0 <= state.tail_size < state.part_size:
            raise StorageError("not an S3 upload handle")
        return state


class ResumableUploads:
    """The resumable-upload half of `S3Storage`."""

    def __init__(self, options: S3Options, connection: S3Connection) -> None:
        self.options = options
        self.connection = connection

    def begin(self) -> str:
        """A fresh handle: nothing is created in the bucket until bytes arrive."""
        return UploadState(v=HANDLE_VERSION, token=secrets.token_hex(16), part_size=self.options.part_size).encode()

    async def append(self, key: str, handle: str, offset: int, chunks: AsyncIterable[bytes]) -> tuple[str, int]:
        """Append `chunks`; when the stream breaks, what arrived is kept and the returned offset says how much."""
        state = UploadState.decode(handle)
        if offset != state.offset:
            raise StorageError(f"the upload holds {state.offset} bytes, not {offset}")
        client = await self.connection.client()
        target = self.options.object_key(key)
        buffer: PartBuffer | None = None
        upload_id, parts = state.upload_id, state.parts
        iterator = aiter(chunks)
        received = 0
        try:
            while (chunk := await _next_chunk(iterator, key, received)) is not None:
                if buffer is None:
                    buffer = PartBuffer(state.part_size, await self._load_tail(client, state))
                buffer.add(chunk)
                received += len(chunk)
                while buffer.full():
                    if upload_id is None:
                        with translated("multipart upload start"):
                            created = await client.create_multipart_upload(Bucket=self.options.bucket, Key=target)
                        upload_id = created["UploadId"]
                    with translated("part upload"):
                        await client.upload_part(Bucket=self.options.bucket, Key=target, UploadId=upload_id,
                                                 PartNumber=parts + 1, Body=buffer.take_part())
                    parts += 1
            if buffer is None:
                return handle, offset
            new = await self._commit(client, state, upload_id, parts, buffer.take_rest())
        except BaseException:
            if upload_id is not None and state.upload_id is None:
                await asyncio.shield(self._abort_multipart(client, target, upload_id))
            raise
        return new.encode(), new.offset

    async def _load_tail(self, client: S3Client, state: UploadState) -> bytes:
        if state.tail is None:
            return b""
        staged = self.options.staging_key(state.token, state.tail)
        try:
            with translated("staged tail read", state.tail):
                response = await client.get_object(Bucket=self.options.bucket, Key=staged)
                async with response["Body"] as body:
                    tail = await body.read()
        except ObjectMissingError:
            raise UploadGoneError("the staged tail of the upload is gone") from None
        if len(tail) != state.tail_size:
            raise StorageError(f"the staged tail holds {len(tail)} bytes, not {state.tail_size}")
        return tail

    async def _commit(self, client: S3Client, state: UploadState, upload_id: str | None, parts: int,
                      rest: bytes) -> UploadState:
        """Store the bytes after the last whole part as a new tail object; the new state points at it."""
        tail: str | None = None
        if rest:
            tail = f"tail-{parts * state.part_size + len(rest)}-{secrets.token_hex(4)}"
            with translated("staged tail write"):
                await client.put_object(Bucket=self.options.bucket,
                                        Key=self.options.staging_key(state.token, tail), Body=rest)
        if state.previous_tail is not None:
            await self._delete_quietly(client, self.options.staging_key(state.token, state.previous_tail))
        return UploadState(v=HANDLE_VERSION, token=state.token, part_size=state.part_size, upload_id=upload_id,
                           parts=parts, tail=tail, tail_size=len(rest), previous_tail=state.tail)

    async def complete(self, key: str, handle: str) -> None:
        """Assemble the object: the tail becomes the last part (or, with no parts, is copied into place).

        Calling it again after a success (e.g. when the files service did not record the first one) is fine."""
        state = UploadState.decode(handle)
        client = await self.connection.client()
        target = self.options.object_key(key)
        try:
            if state.upload_id is None:
                await self._complete_single(client, state, target)
            else:
                await self._complete_multipart(client, state, state.upload_id, target)
        except UploadGoneError:
            if not await self._already_complete(client, target, state):
                raise
        await self._delete_staged(client, state)

    async def _complete_single(self, client: S3Client, state: UploadState, target: str) -> None:
        bucket = self.options.bucket
        if state.tail is None:
            with translated("write"):
                await client.put_object(Bucket=bucket, Key=target, Body=b"")
            return
        try:
            with translated("staged tail copy", state.tail):
                await client.copy_object(Bucket=bucket, Key=target, CopySource={
                    "Bucket": bucket, "Key": self.options.staging_key(state.token, state.tail)})
        except ObjectMissingError:
            raise UploadGoneError("the staged tail of the upload is gone") from None

    async def _complete_multipart(self, client: S3Client, state: UploadState, upload_id: str, target: str) -> None:
        bucket = self.options.bucket
        count = state.parts
        try:
            if state.tail is not None:
                tail = await self._load_tail(client, state)
                await client.upload_part(Bucket=bucket, Key=target, UploadId=upload_id, PartNumber=count + 1,
                                         Body=tail)
                count += 1
            listed: list[CompletedPartTypeDef] = []
            async for page in client.get_paginator("list_parts").paginate(
                    Bucket=bucket, Key=target, UploadId=upload_id):
                listed += [{"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
                           for part in page.get("Parts", []) if part["PartNumber"] <= count]
            if sorted(part["PartNumber"] for part in listed) != list(range(1, count + 1)):
                raise StorageError(f"the multipart upload lacks parts: {len(listed)} of {count} found")
            await client.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id,
                                                   MultipartUpload={"Parts": sorted(listed, key=_number)})
        except ClientError as error:
            if error_code(error) in NO_UPLOAD_CODES:
                raise UploadGoneError("the multipart upload is gone") from error
            fail("multipart upload completion", error)
        except TRANSPORT_ERRORS as error:
            fail("multipart upload completion", error)

    async def _already_complete(self, client: S3Client, target: str, state: UploadState) -> bool:
        try:
            with translated("size", target):
                head = await client.head_object(Bucket=self.options.bucket, Key=target)
        except ObjectMissingError:
            return False
        return head["ContentLength"] == state.offset

    async def abort(self, key: str, handle: str) -> None:
        """Abort the multipart upload (if one was started) and delete every staged object."""
        state = UploadState.decode(handle)
        client = await self.connection.client()
        if state.upload_id is not None:
            try:
                with translated("multipart upload abort"):
                    await client.abort_multipart_upload(
                        Bucket=self.options.bucket, Key=self.options.object_key(key), UploadId=state.upload_id)
            except StorageError as error:
                cause = error.__cause__
                if not (isinstance(cause, ClientError) and error_code(cause) in NO_UPLOAD_CODES):
                    raise
        await self._delete_staged(client, state)

    async def _delete_staged(self, client: S3Client, state: UploadState) -> None:
        prefix = self.options.staging_prefix(state.token)
        with translated("staged objects cleanup"):
            async for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.options.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    await client.delete_object(Bucket=self.options.bucket, Key=item["Key"])

    async def _delete_quietly(self, client: S3Client, staged: str) -> None:
        try:
            await client.delete_object(Bucket=self.options.bucket, Key=staged)
        except (ClientError, *TRANSPORT_ERRORS) as error:
            log.warning("could not delete the staged object %s: %s", staged, error)

    async def _abort_multipart(self, client: S3Client, target: str, upload_id: str) -> None:
        try:
            await client.abort_multipart_upload(Bucket=self.options.bucket, Key=target, UploadId=upload_id)
        except (ClientError, *TRANSPORT_ERRORS) as error:
            log.warning("could not abort the multipart upload of %s: %s", target, error)


async def _next_chunk(iterator: AsyncIterator[bytes], key: str, received: int) -> bytes | None:
    """The next chunk, or None at the end of the stream or when it broke (what arrived is kept: tus semantics)."""
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return None
    except Exception as error:
        log.info("upload stream to %s broke after %d bytes: %s", key, received, error)
        return None


def _number(part: CompletedPartTypeDef) -> int:
    return part.get("PartNumber", 0)
