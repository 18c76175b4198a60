"""How many times the safeguards go to Redis per message, counted by a real redis-server (``MONITOR``): every
round trip adds Redis latency to every webhook and every reply, so the count is pinned here and cannot silently grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from linqbot import Context
from linqbot.middleware.redis_store import RedisSafeguardStore
from linqbot.testing import simulate
from tests.durability.conftest import RedisServer

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN = "+15550100002"
INBOUND_ROUND_TRIPS = 5
"""A person's message, learned and checked by every inbound safeguard (it was 13)."""
REPLY_ROUND_TRIPS = 5
"""A reply, paced, budgeted, checked by every outbound gate and tracked (it was 10)."""
RECEIPT_ROUND_TRIPS = 1
"""A sent/delivered/read webhook: the chat's health and its line's reputation for ``ctx.chat`` (it was 3)."""


@dataclass
class CommandLog:
    """The commands clients sent to a redis-server (commands a Lua script runs inside Redis left out)."""

    commands: list[str] = field(default_factory=list)
    _marks: itertools.count[int] = field(default_factory=itertools.count)
    _seen: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def settled(self, client: aioredis.Redis) -> list[str]:
        """Wait until every command sent so far has been seen (a marker sent after them comes through), then return
        them and start afresh."""
        mark = f"linqbot-test-mark-{next(self._marks)}"
        await client.echo(mark)
        async with self._seen:
            await asyncio.wait_for(self._seen.wait_for(lambda: any(mark in c for c in self.commands)), 10)
            done = [c for c in self.commands if "linqbot-test-mark" not in c]
            self.commands.clear()
        return done

    async def record(self, client: aioredis.Redis) -> None:
        async with client.monitor() as monitor:
            async for command in monitor.listen():
                if command["client_type"] == "lua":
                    continue
                async with self._seen:
                    self.commands.append(str(command["command"]))
                    self._seen.notify_all()


@contextlib.asynccontextmanager
async def commands_sent(url: str) -> AsyncIterator[tuple[CommandLog, aioredis.Redis]]:
    log, client = CommandLog(), aioredis.Redis.from_url(url, decode_responses=True)
    monitoring = aioredis.Redis.from_url(url, decode_responses=True)
    watcher = asyncio.ensure_future(log.record(monitoring))
    try:
        while not watcher.done():  # MONITOR is on once our marker shows up in it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(log.settled(client), 0.5)
                break
        yield log, client
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await client.aclose()
        await monitoring.aclose()


async def test_a_message_and_its_reply_cost_a_pinned_number_of_redis_round_trips(redis_server: RedisServer) -> None:
    store = RedisSafeguardStore(redis_server.url)
    h = harness(store=store)
    counted: dict[str, list[str]] = {}
    receipts: list[str] = []

    async with simulate(h.bot) as sim, commands_sent(redis_server.url) as (log, client):

        @h.bot.on_message()
        async def answer(ctx: Context) -> None:
            if ctx.text == "answer me":
                counted["inbound"] = await log.settled(client)
                await ctx.reply("ok")
                counted["reply"] = await log.settled(client)

        @h.bot.on_event(["message.sent", "message.delivered", "message.read"])
        async def receipt(ctx: Context) -> None:
            receipts.append(ctx.event.event_type)

        try:
            ann = sim.user(ANN)
            await ann.send("hi")  # the first message of a chat also records the chat map; the first send loads scripts
            await ann.send("answer me")
            await ann.expect_reply()
            await sim.idle()
            await log.settled(client)
            receipts.clear()
            await h.advance(sim, 30)  # a person takes a while to answer: no fast round for the loop breaker
            await ann.send("answer me")
            await ann.expect_reply()
            await sim.idle()
            counted["receipts"] = await log.settled(client)
        finally:
            await store.aclose()
    assert len(counted["inbound"]) == INBOUND_ROUND_TRIPS, counted["inbound"]
    assert len(counted["reply"]) == REPLY_ROUND_TRIPS, counted["reply"]
    assert sorted(receipts) == ["message.delivered", "message.read", "message.sent"]
    assert len(counted["receipts"]) == RECEIPT_ROUND_TRIPS * len(receipts), counted["receipts"]
