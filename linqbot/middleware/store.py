"""Where the safeguards keep what must be shared: rate windows, budgets, opt-outs, unanswered counts, health.

Every safeguard reads and writes through `SafeguardStore`, so a store shared by several processes makes pacing and
opt-outs global to the bot instead of per process. `MemoryStore` serves one process;
``linqbot.middleware.redis_store.RedisSafeguardStore`` serves every process sharing a Redis.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from linqbot.middleware.errors import SafeguardHold


class SafeguardStoreUnavailable(SafeguardHold):
    """The shared store (Redis) did not answer: the safeguards cannot tell whether a send is within its limits, so
    it is held — nothing was sent."""


class SafeguardStore(Protocol):
    """Sliding-window counters and small string values; every method is atomic for its key."""

    async def acquire(self, key: str, limit: int, window: float, now: float) -> float:
        """Record one hit on ``key`` if fewer than ``limit`` fell in the last ``window`` seconds and return 0.0;
        otherwise record nothing and return the seconds until a hit would fit."""
        ...

    async def release(self, key: str, stamp: float) -> None:
        """Take back a hit recorded at ``stamp`` (a send that was refused before it reached anyone)."""
        ...

    async def hit(self, key: str, window: float, now: float) -> int:
        """Record one hit unconditionally; return the hits within the last ``window`` seconds, this one included."""
        ...

    async def count(self, key: str, window: float, now: float) -> int:
        """Hits within the last ``window`` seconds."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str) -> int:
        """Add one to the integer at ``key`` (missing counts as 0) and return the new value."""
        ...


class MemoryStore:
    """The in-process store (the default): sliding windows as timestamp deques, values in a dict."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}
        self._values: dict[str, str] = {}

    def _pruned(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._windows.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    async def acquire(self, key: str, limit: int, window: float, now: float) -> float:
        hits = self._pruned(key, window, now)
        if len(hits) >= limit:
            return max(hits[len(hits) - limit] + window - now, 1e-3)
        hits.append(now)
        return 0.0

    async def release(self, key: str, stamp: float) -> None:
        hits = self._windows.get(key)
        if hits is not None and stamp in hits:
            hits.remove(stamp)

    async def hit(self, key: str, window: float, now: float) -> int:
        hits = self._pruned(key, window, now)
        hits.append(now)
        return len(hits)

    async def count(self, key: str, window: float, now: float) -> int:
        hits = self._pruned(key, window, now)
        if not hits:
            del self._windows[key]
        return len(hits)

    async def get(self, key: str) -> str | None:
        return self._values.get(key)

    async def set(self, key: str, value: str) -> None:
        self._values[key] = value

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str) -> int:
        value = int(self._values.get(key, "0")) + 1
        self._values[key] = str(value)
        return value
