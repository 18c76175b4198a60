"""Helpers for the deliverability scenarios: bots with a manual safeguard clock, and a recorder of real API calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from linqbot import Bot, Context
from linqbot.middleware import ManualClock, MemoryStore, Safeguards
from linqbot.middleware.redis_store import RedisSafeguardStore
from linqbot.middleware.store import SafeguardStore
from linqbot.middleware.tracking import DAY, budget_key
from linqbot.outbound import OutboundCall, RetryPolicy
from linqbot.outbound.pipeline import Next
from linqbot.testing import Simulation
from tests.durability.conftest import RedisServer

pytestmark = pytest.mark.usefixtures("linq_env")

EVERYONE = Safeguards()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SafeguardStore]:
    """Each test using it runs on both stores: an in-memory one, and a Redis one on a redis-server of the test's own
    (the Redis store must answer exactly as the in-memory one)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    shared = RedisSafeguardStore(server.url)
    try:
        yield shared
    finally:
        await shared.aclose()


class LinqClock:
    """The emulator's own clock (wall time plus every advance) as the safeguards' clock.

    `ManualClock` stands still while the emulator's clock runs with real time, so against it a window boundary moves
    with how long the test took. On this one timeline, as in production, only the time each request takes to reach
    Linq separates our count from Linq's. Sleepers wake when their deadline passes, in real time or by `advance`.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._sleepers: dict[asyncio.Future[None], float] = {}
        self._changed = asyncio.Event()

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        deadline = self.now() + seconds
        while (left := deadline - self.now()) > 0:
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._sleepers[woken] = deadline
            self._changed.set()
            try:
                await asyncio.wait({woken}, timeout=left)
            finally:
                del self._sleepers[woken]

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    async def wait_for_sleepers(self, count: int = 1, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self._sleepers) < count:
                self._changed.clear()
                await self._changed.wait()

    def until_next_wake(self) -> float:
        """Seconds until the earliest sleeper's deadline."""
        return min(self._sleepers.values()) - self.now()

    def advance(self, seconds: float) -> None:
        """Time moved on by ``seconds`` (`Harness.advance` moves the emulator's clock with it)."""
        self.offset += seconds
        for woken in self._sleepers:
            if not woken.done():
                woken.set_result(None)


@dataclass
class Harness:
    """A bot whose safeguards run on ``clock``; ``calls`` lists every API call that reached the network."""

    bot: Bot
    clock: ManualClock | LinqClock
    calls: list[OutboundCall] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def ops(self, op: str | None = None) -> list[OutboundCall]:
        return [c for c in self.calls if op is None or c.op == op]

    def chat_ops(self) -> list[str]:
        """The ops of calls into chats (start-up reads of the line left out), in order."""
        return [c.op for c in self.calls if c.chat_id is not None]

    async def advance(self, sim: Simulation, seconds: float) -> None:
        """Move the emulator's clock and the safeguards' clock together (Linq's windows and ours)."""
        await sim.advance(seconds)
        self.clock.advance(seconds)

    async def budget_used(self, budget: str = "budget") -> int:
        """What the line's daily (``budget``) or new-conversation (``new_chats``) budget counted in the last 24 h."""
        line = self.bot.client.phone_number
        assert line is not None
        key = budget_key(line) if budget == "budget" else f"new_chats:{line}"
        return await self.bot.safeguards.store.count(key, DAY, self.clock.now())


def harness(
    safeguards: Safeguards = EVERYONE,
    *,
    retry: RetryPolicy | None = None,
    clock: ManualClock | LinqClock | None = None,
    inbox: str | None = None,
    **overrides: Any,
) -> Harness:
    """A bot with ``safeguards`` (all on by default, ``overrides`` replace single settings) on ``clock`` (a manual
    one by default).

    Retries are off by default: a 429 or refusal must reach the handler, not be absorbed by a retry.
    """
    clock = clock or ManualClock()
    settings = replace(safeguards, clock=clock, **overrides)
    bot = Bot(env_file=None, safeguards=settings, retry=retry or RetryPolicy(max_attempts=1), inbox=inbox)
    h = Harness(bot, clock)

    async def record(call: OutboundCall, call_next: Next) -> Any:
        h.calls.append(call)
        return await call_next(call)

    bot.outbound_middleware.add(record, name="test_recorder")

    @bot.on_error()
    async def keep(ctx: Context, error: Exception) -> None:
        h.errors.append(error)

    return h
