"""The inbox store contract, and the in-memory store used by tests and `simulate`.

A store keeps every accepted event until its handlers finished, and remembers event ids for ``retention`` seconds
after that, so a Linq redelivery (retried for ~30 minutes) is recognised. Events live in *lanes* (one per chat):
a lane is worked by one worker at a time, anywhere, which is what keeps a chat's events in arrival order.

The worker protocol, the same for every backend::

    if await store.claim(lane):                 # the lane is ours (others' accepts land behind us)
        while (item := await store.head(lane)) is not None or not await store.release(lane):
            if item: run it; await store.finish(item)

``release`` gives the lane up only when it is empty, atomically with respect to ``add``, so an event accepted while
the worker was finishing is never stranded.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Callable
from types import TracebackType
from typing import NamedTuple, Self

Clock = Callable[[], float]

DEFAULT_RETENTION = 24 * 3600.0
"""Dedup records outlive Linq's ~30 minute retry window by a wide margin."""


class InboxUnavailable(Exception):
    """The store cannot be reached (e.g. Redis is restarting): the webhook answers 503 so Linq retries."""


class StoredEvent(NamedTuple):
    """An accepted event as stored: the raw body, so a re-run parses exactly what Linq sent (a named tuple:
    immutable like the frozen dataclass it was, and built in half its time on every accept)."""

    event_id: str
    lane: str
    body: bytes


class Leadership(ABC):
    """Whether this process may run once-per-deployment work (scheduled jobs); see `RedisLeadership`."""

    @property
    @abstractmethod
    def is_leader(self) -> bool: ...

    async def confirm(self) -> bool:
        """Whether this process still leads, asked of the store itself: the fence right before leader-only work."""
        return self.is_leader

    async def start(self) -> None:  # noqa: B027 - nothing to do for a sole leader
        """Begin campaigning (and heartbeating once elected)."""

    async def stop(self) -> None:  # noqa: B027
        """Step down, so another process takes over without waiting for the lease to lapse."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class SoleLeadership(Leadership):
    """A single-process deployment is always its own leader."""

    @property
    def is_leader(self) -> bool:
        return True


class InboxStore(ABC):
    """Durable, deduplicating, lane-ordered storage of accepted events."""

    shared = False
    """True when several processes use the store at once: the inbox then sweeps for lanes others left behind."""

    def __init__(self, *, retention: float = DEFAULT_RETENTION, clock: Clock = time.time) -> None:
        if retention <= 0:
            raise ValueError("retention must be positive (seconds an event id is remembered)")
        self.retention = retention
        self.clock = clock

    async def open(self) -> None:  # noqa: B027 - memory needs no opening
        """Connect and load; called once before the first `add`."""

    async def close(self) -> None:  # noqa: B027
        """Flush and release resources."""

    @property
    @abstractmethod
    def backlog(self) -> int:
        """Events this process still has to run (on a shared store: lanes it holds)."""

    @abstractmethod
    async def add(self, event: StoredEvent) -> bool:
        """Persist ``event`` behind its lane's earlier events; False (and nothing stored) for a known event id."""

    @abstractmethod
    async def claim(self, lane: str) -> bool:
        """Take the lane for this process; False when another worker holds it."""

    @abstractmethod
    async def head(self, lane: str) -> StoredEvent | None:
        """The lane's oldest unfinished event."""

    @abstractmethod
    async def finish(self, event: StoredEvent) -> None:
        """Mark the lane's head done (its id stays remembered for ``retention``)."""

    @abstractmethod
    async def release(self, lane: str) -> bool:
        """Give the lane up if it is empty; False when more events arrived (keep working)."""

    @abstractmethod
    async def lanes(self) -> list[str]:
        """Lanes with unfinished events, the one waiting longest first (restart recovery and sweeping)."""

    async def prune(self) -> int:
        """Forget event ids older than ``retention``; returns how many were dropped."""
        return 0

    def leadership(self, name: str) -> Leadership:
        """A leadership primitive named ``name`` shared by every process on this store."""
        return SoleLeadership()


class MemoryStore(InboxStore):
    """Everything in this process: nothing survives a restart. The default for tests and `simulate`."""

    def __init__(
        self, *, retention: float = DEFAULT_RETENTION, max_ids: int = 500_000, clock: Clock = time.time
    ) -> None:
        super().__init__(retention=retention, clock=clock)
        self._max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._next_expiry = -math.inf
        """When the oldest remembered id runs out (or earlier): until then an accept need not look for old ids."""
        self._lanes: dict[str, deque[StoredEvent]] = {}
        self._backlog = 0

    @property
    def backlog(self) -> int:
        return self._backlog

    def _remember(self, event: StoredEvent) -> bool:
        """Record the id and queue the event in memory; False for a redelivery."""
        now = self.clock()
        seen_at = self._seen.get(event.event_id)
        if seen_at is not None:
            if now - seen_at < self.retention:
                return False
            self._seen.move_to_end(event.event_id)  # a new id is inserted last already; an expired one is moved
        self._seen[event.event_id] = now
        self._forget_old(now)
        self._enqueue(event)
        return True

    def _enqueue(self, event: StoredEvent) -> None:
        queue = self._lanes.get(event.lane)
        if queue is None:
            self._lanes[event.lane] = queue = deque()
        queue.append(event)
        self._backlog += 1

    def _forget_old(self, now: float) -> int:
        seen, dropped = self._seen, 0
        if now < self._next_expiry and len(seen) <= self._max_ids:
            return 0
        self._next_expiry = -math.inf
        while seen:
            oldest_id, oldest_at = next(iter(seen.items()))
            if len(seen) <= self._max_ids and now - oldest_at < self.retention:
                self._next_expiry = oldest_at + self.retention
                break
            del seen[oldest_id]
            dropped += 1
        return dropped

    async def add(self, event: StoredEvent) -> bool:
        return self._remember(event)

    async def claim(self, lane: str) -> bool:
        return True  # one process: the inbox already runs at most one worker per lane

    async def head(self, lane: str) -> StoredEvent | None:
        queue = self._lanes.get(lane)
        return queue[0] if queue else None

    async def finish(self, event: StoredEvent) -> None:
        self._pop(event)

    def _pop(self, event: StoredEvent) -> None:
        queue = self._lanes.get(event.lane)
        if not queue or queue[0].event_id != event.event_id:
            return
        queue.popleft()
        self._backlog -= 1
        if not queue:
            del self._lanes[event.lane]

    async def release(self, lane: str) -> bool:
        return not self._lanes.get(lane)

    async def lanes(self) -> list[str]:
        return list(self._lanes)

    async def prune(self) -> int:
        return self._forget_old(self.clock())
