"""The per-node cache of encoded profiles that serves `GET /me` and `GET /users/{id}` without the database."""

from __future__ import annotations

import time
from collections import OrderedDict

CHANGED_TOPIC = "users.changed"
"""Broadcast (payload: the user ID, or empty for "everything") after any write to a profile."""


class ProfileCache:
    """An LRU of encoded profiles keyed by user ID, each kept at most `max_age` seconds.

    Every write path drops the entry on this node before answering (so a PATCH followed by a GET on the same
    node always shows the change) and broadcasts `users.changed` so the other nodes drop theirs. A read that
    raced a write cannot put back what it read before the write: `put` takes the `generation` observed before
    reading and is ignored if any invalidation happened since. `max_age` bounds the staleness of an entry whose
    broadcast was lost (broadcasts are at most once); after a NATS reconnect the whole cache is dropped."""

    def __init__(self, size: int = 10_000, max_age: float = 60.0) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._size = size
        self._max_age = max_age
        self.generation = 0

    def get(self, user_id: str) -> bytes | None:
        """The encoded profile of `user_id`, if cached and fresh."""
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(user_id, None)
            return None
        self._entries.move_to_end(user_id)
        return entry[1]

    def put(self, user_id: str, body: bytes, generation: int) -> None:
        """Cache `body`, read while the cache was at `generation` (dropped if anything was invalidated since)."""
        if generation != self.generation:
            return
        self._entries[user_id] = (time.monotonic() + self._max_age, body)
        self._entries.move_to_end(user_id)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def invalidate(self, user_id: str) -> None:
        """Forget `user_id`'s profile."""
        self.generation += 1
        self._entries.pop(user_id, None)

    def clear(self) -> None:
        """Forget every profile."""
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
