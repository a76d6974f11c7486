"""The token deny-list: revoked access tokens, sessions and subjects until their tokens expire."""

from __future__ import annotations

import time

import valkey.asyncio as valkey
from valkey.exceptions import ValkeyError

from gravity_platform.kernel.cache import Degradation


class DenyList:
    """Revoked access tokens, sessions and subjects until the tokens concerned expire.

    Valkey is the durable, shared store (`deny:<kind>:<value>` = marker, with the entry's TTL). The per-request
    check (`denies`) reads only this node's memory, which learns every entry from three sources: this node's
    own `deny` calls, the other nodes' broadcasts over NATS (`remember`), and `resync` — a scan of Valkey that
    the node runs at start and after every NATS reconnect, so nothing broadcast while it was cut off is missed.
    `is_denied` asks Valkey itself (falling back to memory while Valkey is down)."""

    def __init__(self, client: valkey.Valkey, prefix: str = "deny") -> None:
        self._client = client
        self._prefix = prefix
        self._local: dict[str, tuple[float, int]] = {}
        self._degraded = Degradation("the token deny-list")

    async def deny(self, kind: str, value: str, ttl: int, *, cutoff: int | None = None) -> None:
        """Deny a `jti`, `sid` or `sub` for `ttl` seconds; for `sub`, tokens issued before `cutoff`."""
        marker = cutoff if cutoff is not None else int(time.time()) + 1
        self.remember(kind, value, ttl, marker)
        try:
            await self._client.set(f"{self._prefix}:{kind}:{value}", marker, ex=max(1, ttl))
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)

    def remember(self, kind: str, value: str, ttl: float, marker: int) -> None:
        """Record a denial on this node only (as told by another node over the bus, or read back from Valkey).
        Of two entries for the same token, session or subject, the one denying more and for longer wins."""
        now = time.monotonic()
        if len(self._local) > 100_000:
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        name = f"{kind}:{value}"
        expires, current = self._local.get(name, (0.0, marker))
        if expires > now:
            self._local[name] = (max(expires, now + ttl), max(current, marker))
        else:
            self._local[name] = (now + ttl, marker)

    def denies(self, jti: str, sid: str | None, sub: str, issued_at: int) -> bool:
        """Whether this node knows a token with these claims to be revoked (memory only: no round trip)."""
        local = self._local
        if not local:
            return False
        now = time.monotonic()
        for name in (f"jti:{jti}", f"sub:{sub}", f"sid:{sid}" if sid else None):
            entry = local.get(name) if name else None
            if entry is not None and entry[0] > now and issued_at < entry[1]:
                return True
        return False

    def subject_cutoff(self, sub: str) -> int:
        """The earliest `iat` a token of `sub` may carry and not be denied (0 when nothing denies the subject)."""
        entry = self._local.get(f"sub:{sub}")
        return entry[1] if entry is not None and entry[0] > time.monotonic() else 0

    async def resync(self, *, batch: int = 500) -> int:
        """Read every entry Valkey holds (SCAN `deny:*`, with their TTLs) into this node's memory; the number
        read. Raises when Valkey cannot be read (the caller retries)."""
        count = 0
        keys: list[bytes | str] = []
        async for key in self._client.scan_iter(match=f"{self._prefix}:*", count=batch):
            keys.append(key)
            if len(keys) >= batch:
                count += await self._load(keys)
                keys = []
        if keys:
            count += await self._load(keys)
        return count

    async def _load(self, keys: list[bytes | str]) -> int:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        answers = await pipe.execute()
        loaded = 0
        for i, key in enumerate(keys):
            marker, ttl_ms = answers[2 * i], answers[2 * i + 1]
            name = key.decode() if isinstance(key, bytes) else key
            kind, _, value = name.removeprefix(f"{self._prefix}:").partition(":")
            if marker is None or not value or ttl_ms is None or int(ttl_ms) <= 0:
                continue  # expired meanwhile, or an entry without a TTL (never written by `deny`)
            try:
                self.remember(kind, value, int(ttl_ms) / 1000, int(marker))
            except ValueError:
                continue
            loaded += 1
        return loaded

    def keys(self, jti: str, sid: str | None, sub: str) -> list[str]:
        """The Valkey keys that deny a token with these claims."""
        keys = [f"{self._prefix}:jti:{jti}", f"{self._prefix}:sub:{sub}"]
        if sid:
            keys.append(f"{self._prefix}:sid:{sid}")
        return keys

    async def is_denied(self, jti: str, sid: str | None, sub: str, issued_at: int) -> bool:
        """Whether a token with these claims has been revoked."""
        keys = [("jti", jti), ("sub", sub)] + ([("sid", sid)] if sid else [])
        markers: list[int | None] = []
        try:
            values = await self._client.mget(self.keys(jti, sid, sub))
            markers = [int(v) if v is not None else None for v in values]
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)
            now = time.monotonic()
            for kind, value in keys:
                entry = self._local.get(f"{kind}:{value}")
                markers.append(entry[1] if entry and entry[0] > now else None)
        return any(marker is not None and issued_at < marker for marker in markers)
