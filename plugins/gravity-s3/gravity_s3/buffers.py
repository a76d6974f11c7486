"""Bytes on their way to S3: at most one part (and the chunk that overflowed it) is ever held."""

from __future__ import annotations

from collections import deque


class PartBuffer:
    """Chunks waiting to become parts of `part_size` bytes; each byte is copied once, when its part is taken."""

    def __init__(self, part_size: int, initial: bytes = b"") -> None:
        self.part_size = part_size
        self._chunks: deque[bytes | memoryview] = deque([initial] if initial else [])
        self._size = len(initial)

    def __len__(self) -> int:
        return self._size

    def add(self, chunk: bytes) -> None:
        """Append a chunk."""
        if chunk:
            self._chunks.append(chunk)
            self._size += len(chunk)

    def full(self) -> bool:
        """Whether a whole part is waiting."""
        return self._size >= self.part_size

    def take_part(self) -> bytes:
        """Remove and return the next whole part."""
        taken: list[bytes | memoryview] = []
        needed = self.part_size
        while needed:
            chunk = self._chunks.popleft()
            if len(chunk) > needed:
                view = memoryview(chunk)
                self._chunks.appendleft(view[needed:])
                chunk = view[:needed]
            taken.append(chunk)
            needed -= len(chunk)
        self._size -= self.part_size
        return b"".join(taken)

    def take_rest(self) -> bytes:
        """Remove and return everything left (less than a part)."""
        rest = b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        return rest
