"""Time for the safeguards: wall-clock by default, a manual clock in tests so a 60 s window passes instantly.

Windows and budgets are shared across processes through the store, so they use wall time (``time.time``), not a
monotonic clock that only means something inside one process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """What the safeguards need from time: the current timestamp and a way to wait."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class SystemClock:
    """Real time; every instance is the same clock (they compare equal)."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ManualClock:
    """Time that moves only when ``advance`` is called; sleepers wake once their deadline has passed.

    Tests advance it together with the emulator's clock (``sim.advance``), so a pacing window opens without waiting.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many coroutines are waiting on this clock right now."""
        return sum(1 for _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, future))
        self._notify()
        try:
            await future
        finally:
            self._sleepers = [(due, f) for due, f in self._sleepers if f is not future]

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_sleepers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` coroutines sleep on this clock (a pacer waiting for its window, a bubble pause)."""
        async with asyncio.timeout(timeout):
            while self.sleepers < count:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        self._now += seconds
        for due, future in self._sleepers:
            if due <= self._now and not future.done():
                future.set_result(None)
