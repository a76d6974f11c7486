"""The tus 1.0 checksum extension: `Upload-Checksum: <algorithm> <base64 digest>` on a PATCH, verified over that
PATCH's bytes while they stream (nothing buffered)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gravity_platform.kernel.errors import BadRequestError, GravityError

ALGORITHMS: dict[str, Callable[[], Any]] = {
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "md5": lambda: hashlib.md5(usedforsecurity=False),
}
"""The algorithms a PATCH may name, by their tus names (sha1 is the one the protocol requires)."""
ADVERTISED = ",".join(ALGORITHMS)
"""The `Tus-Checksum-Algorithm` header value."""


class ChecksumMismatchError(GravityError):
    """The PATCH body does not hash to its `Upload-Checksum`; tus answers 460 and the chunk is discarded."""

    status, code, title = 460, "checksum-mismatch", "Checksum mismatch"


class UnsupportedChecksumError(BadRequestError):
    """`Upload-Checksum` names an algorithm this server does not offer."""

    code, title = "checksum-algorithm-unsupported", "Checksum algorithm not supported"


@dataclass(frozen=True)
class Checksum:
    """What a PATCH claims its body hashes to."""

    algorithm: str
    digest: bytes

    def verified(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass `chunks` through, hashing them; at their end raise ChecksumMismatchError unless the digest matches
        (so a backend writing them sees a failed stream and keeps nothing)."""
        return _verified(chunks, ALGORITHMS[self.algorithm](), self.digest)


async def _verified(chunks: AsyncIterator[bytes], hasher: Any, expected: bytes) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        hasher.update(chunk)
        yield chunk
    if hasher.digest() != expected:
        raise ChecksumMismatchError("The body does not match its Upload-Checksum; the chunk was discarded")


def parse_checksum(header: str | None, headers: dict[str, str]) -> Checksum | None:
    """The `Upload-Checksum` of a PATCH (None without one); 400 for an unknown algorithm or a malformed value.
    `headers` go on the error (tus answers carry Tus-Resumable)."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in ALGORITHMS:
        raise UnsupportedChecksumError(f"Upload-Checksum algorithm {algorithm!r} is not one of {ADVERTISED}",
                                       headers={**headers, "Tus-Checksum-Algorithm": ADVERTISED})
    expected_size = ALGORITHMS[algorithm]().digest_size
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != expected_size:
        raise BadRequestError(f"Upload-Checksum must be '{algorithm} <base64 of the {expected_size}-byte digest>'",
                              headers=headers)
    return Checksum(algorithm, digest)
