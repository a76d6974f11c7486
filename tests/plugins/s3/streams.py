"""Byte payloads and chunk streams for the storage tests."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from itertools import cycle

from litestar.exceptions import InternalServerException

MIB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    """`size` reproducible pseudo-random bytes (no run of them compresses or repeats)."""
    return random.Random(seed).randbytes(size)


async def pieces(data: bytes, sizes: Sequence[int] = (65536,)) -> AsyncIterator[bytes]:
    """`data` as chunks whose sizes cycle through `sizes` (odd sizes catch boundary bugs)."""
    position = 0
    for size in cycle(sizes):
        if position >= len(data):
            return
        yield data[position:position + size]
        position += size


async def broken(data: bytes, cut: int, chunk: int = 100_000) -> AsyncIterator[bytes]:
    """The first `cut` bytes of `data`, then the client goes away (what Litestar's request stream raises)."""
    async for part in pieces(data[:cut], (chunk,)):
        yield part
    raise InternalServerException("client disconnected prematurely")


async def collect(chunks: AsyncIterable[bytes]) -> bytes:
    """Every chunk, joined."""
    return b"".join([chunk async for chunk in chunks])


async def digest(chunks: AsyncIterable[bytes]) -> str:
    """The sha256 of a stream, without keeping it."""
    hasher = hashlib.sha256()
    async for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()
