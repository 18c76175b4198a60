"""Where the safeguards keep what must be shared: rate windows, budgets, opt-outs, unanswered counts, health.

Every safeguard reads and writes through `SafeguardStore`, so a store shared by several processes makes pacing and
opt-outs global to the bot instead of per process. `MemoryStore` serves one process;
``linqbot.middleware.redis_store.RedisSafeguardStore`` serves every process sharing a Redis.

A window counts members, not calls: each hit names what it counts (an inbound message's id, a send's idempotency
key), so the same message seen again — its event re-run after a crash or a lapsed lease, a send re-run with the same
key, which Linq deduplicates — counts once, as Linq counts it.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Sequence
from operator import itemgetter
from typing import Protocol

from linqbot.middleware.clock import Clock, SystemClock
from linqbot.middleware.errors import SafeguardHold


class SafeguardStoreUnavailable(SafeguardHold):
    """The shared store (Redis) did not answer: the safeguards cannot tell whether a send is within its limits, so
    it is held — nothing was sent."""


class SafeguardStore(Protocol):
    """Sliding-window counters and small string values; every method is atomic for its key."""

    async def acquire(self, key: str, member: str, limit: int, window: float, now: float) -> float | None:
        """Record ``member`` on ``key`` if fewer than ``limit`` hits fell in the last ``window`` seconds and return
        0.0. Return None, recording nothing, if ``member`` is in the window already (it counts once, whatever the
        limit). Otherwise record nothing and return the seconds until a hit would fit: ``math.inf`` for a limit of
        0 or less, which no hit ever fits."""
        ...

    async def release(self, key: str, member: str) -> None:
        """Take back ``member`` (a send that was refused before it reached anyone)."""
        ...

    async def hit(self, key: str, member: str, window: float, now: float) -> int:
        """Record ``member`` unless it is in the window already; return the hits within the last ``window``
        seconds, this one included."""
        ...

    async def count(self, key: str, window: float, now: float) -> int:
        """Hits within the last ``window`` seconds."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        """The values at ``keys``, in order, read together (one round trip to a shared store)."""
        ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        """Store ``value``; with ``ttl`` it is forgotten that many seconds later (unless set again)."""
        ...

    async def delete(self, *keys: str) -> None:
        """Forget the values and the windows at ``keys``."""
        ...

    async def incr(self, key: str, ttl: float | None = None) -> int:
        """Add one to the integer at ``key`` (missing counts as 0) and return the new value; with ``ttl`` the count
        is forgotten that many seconds after this increment."""
        ...


_stamp_of = itemgetter(0)


class _Window:
    """One sliding window: its hits as (stamp, member) in stamp order, and each member's stamp.

    Hits nearly always arrive in time order (append, expire from the left); one stamped earlier than the newest (a
    flood window is timed by when messages were written) is inserted in its place.
    """

    __slots__ = ("hits", "stamps")

    def __init__(self) -> None:
        self.hits: deque[tuple[float, str]] = deque()
        self.stamps: dict[str, float] = {}

    def prune(self, now: float, window: float) -> None:
        hits, cutoff = self.hits, now - window
        while hits and hits[0][0] <= cutoff:
            del self.stamps[hits.popleft()[1]]

    def add(self, member: str, now: float) -> None:
        hits = self.hits
        if hits and now < hits[-1][0]:
            hits.insert(bisect.bisect_right(hits, now, key=_stamp_of), (now, member))
        else:
            hits.append((now, member))
        self.stamps[member] = now

    def remove(self, member: str) -> None:
        stamp = self.stamps.pop(member, None)
        if stamp is not None:
            self.hits.remove((stamp, member))


class _Lifetimes:
    """When keys are due to be forgotten. The heap holds about one entry per key: a renewed key's entry is queued
    again for its new deadline when its old one comes up, instead of a new entry per renewal."""

    __slots__ = ("_heap", "deadlines")

    def __init__(self) -> None:
        self.deadlines: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def renew(self, key: str, deadline: float) -> None:
        queued = self.deadlines.get(key)
        self.deadlines[key] = deadline
        if queued is None or deadline < queued:
            heapq.heappush(self._heap, (deadline, key))

    def due(self, now: float) -> list[str]:
        """The keys whose deadline has passed (forgotten here)."""
        heap = self._heap
        if not heap or heap[0][0] > now:
            return []
        due: list[str] = []
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            deadline = self.deadlines.get(key)
            if deadline is None:
                continue
            if deadline <= now:
                del self.deadlines[key]
                due.append(key)
            else:
                heapq.heappush(heap, (deadline, key))
        return due


class MemoryStore:
    """The in-process store (the default): sliding windows as stamp-ordered deques, values in a dict.

    Lifetimes run on ``clock``: values set with a ``ttl`` are forgotten after it, and a window one window length
    after its last hit, as in Redis — so a person who never writes again leaves nothing behind. Built without a
    clock, the store takes the safeguards' clock when they start using it (`use_clock`), so a test's `ManualClock`
    ages keys and windows alike.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._clock_chosen = clock is not None
        self._windows: dict[str, _Window] = {}
        self._values: dict[str, str] = {}
        self._value_lifetimes = _Lifetimes()
        self._window_lifetimes = _Lifetimes()

    def use_clock(self, clock: Clock) -> None:
        """Run lifetimes on the safeguards' ``clock``: pruning a window uses their time, so a value's lifetime must
        too, or a `ManualClock` moved a day on would leave a day-long refusal in place.

        Raises ValueError if the store was built with (or already took) another clock."""
        if self._clock_chosen and clock != self._clock:
            raise ValueError(
                "this MemoryStore runs on another clock than the safeguards': build it with the safeguards' clock, "
                "MemoryStore(clock), or without one (it then takes theirs)"
            )
        self._clock, self._clock_chosen = clock, True

    def held(self) -> int:
        """Keys held (values and windows): what the store costs a long-running process."""
        self._expire()
        return len(self._values) + len(self._windows)

    def _pruned(self, key: str, window: float, now: float) -> tuple[_Window, float]:
        """The window at ``key`` without the hits older than ``window``, and the store's time."""
        clock_now = self._expire()
        hits = self._windows.get(key)
        if hits is None:
            hits = self._windows[key] = _Window()
        hits.prune(now, window)
        return hits, clock_now

    async def acquire(self, key: str, member: str, limit: int, window: float, now: float) -> float | None:
        hits, clock_now = self._pruned(key, window, now)
        if member in hits.stamps:
            return None
        if len(hits.hits) >= limit:
            if limit <= 0:
                return math.inf
            return max(hits.hits[len(hits.hits) - limit][0] + window - now, 1e-3)
        hits.add(member, now)
        self._window_lifetimes.renew(key, clock_now + window)
        return 0.0

    async def release(self, key: str, member: str) -> None:
        hits = self._windows.get(key)
        if hits is not None:
            hits.remove(member)

    async def hit(self, key: str, member: str, window: float, now: float) -> int:
        hits, clock_now = self._pruned(key, window, now)
        if member not in hits.stamps:
            hits.add(member, now)
            self._window_lifetimes.renew(key, clock_now + window)
        return len(hits.hits)

    async def count(self, key: str, window: float, now: float) -> int:
        hits, _ = self._pruned(key, window, now)
        if not hits.hits:
            del self._windows[key]
            self._window_lifetimes.deadlines.pop(key, None)
        return len(hits.hits)

    def _expire(self) -> float:
        """Forget the values and windows whose time ran out; returns the time it is now."""
        now = self._clock.now()
        for key in self._value_lifetimes.due(now):
            del self._values[key]
        for key in self._window_lifetimes.due(now):
            del self._windows[key]
        return now

    async def get(self, key: str) -> str | None:
        self._expire()
        return self._values.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        self._expire()
        return [self._values.get(key) for key in keys]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        now = self._expire()
        self._values[key] = value
        if ttl is None:
            self._value_lifetimes.deadlines.pop(key, None)
        else:
            self._value_lifetimes.renew(key, now + ttl)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)
            self._value_lifetimes.deadlines.pop(key, None)
            self._windows.pop(key, None)
            self._window_lifetimes.deadlines.pop(key, None)

    async def incr(self, key: str, ttl: float | None = None) -> int:
        self._expire()
        value = int(self._values.get(key, "0")) + 1
        if ttl is None:
            self._values[key] = str(value)  # as Redis' INCR: a lifetime set earlier stays
        else:
            await self.set(key, str(value), ttl)
        return value
