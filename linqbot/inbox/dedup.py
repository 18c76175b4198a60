"""Redelivery protection: Linq retries a webhook for ~30 minutes, so an event id may arrive many times."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class Deduplicator(Protocol):
    """Remembers event ids; `first_sighting` is atomic so concurrent redeliveries run handlers once."""

    async def first_sighting(self, event_id: str) -> bool:
        """Record ``event_id``; True the first time it is seen within the retention window."""
        ...


class MemoryDeduplicator:
    """In-process dedup with a retention window and a size bound (oldest ids are forgotten first)."""

    def __init__(
        self,
        retention: float = 24 * 3600,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._retention = retention
        self._max_entries = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._seen)

    async def first_sighting(self, event_id: str) -> bool:
        now = self._clock()
        seen_at = self._seen.get(event_id)
        if seen_at is not None and now - seen_at < self._retention:
            return False
        self._seen[event_id] = now
        self._seen.move_to_end(event_id)
        self._evict(now)
        return True

    def _evict(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest_id, oldest_at = next(iter(seen.items()))
            if len(seen) <= self._max_entries and now - oldest_at < self._retention:
                break
            del seen[oldest_id]
