"""What the safeguards keep per chat does not pile up for ever: the shared (line, people) → chat map forgets a chat a
month after its last use, renewed by use at most once a day, and a chat's health is kept only while it has a problem.
Time is the store's own: the safeguards' `ManualClock` for the in-memory store, Redis' TTLs for a real redis-server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from linqbot.middleware import ManualClock, MemoryStore
from linqbot.middleware.chats import CHAT_MAP_TTL, HEALTHY
from linqbot.middleware.redis_store import RedisSafeguardStore
from linqbot.middleware.tracking import DAY
from linqbot.testing import simulate
from tests.durability.conftest import RedisServer

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN, BOB = "+15550100002", "+15550100003"


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[RedisSafeguardStore]:
    store = RedisSafeguardStore(redis_server.url)
    try:
        yield store
    finally:
        await store.aclose()


async def test_values_set_with_a_ttl_are_forgotten_by_the_memory_stores_clock() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    await store.set("short", "1", ttl=60)
    await store.set("kept", "2")
    await store.set("renewed", "3", ttl=60)
    clock.advance(50)
    await store.set("renewed", "3", ttl=60)
    clock.advance(10)
    assert (await store.get("short"), await store.get("kept"), await store.get("renewed")) == (None, "2", "3")
    await store.set("renewed", "4")  # a plain set keeps it for good, as Redis' SET does
    clock.advance(3_600)
    assert await store.get("renewed") == "4"
    await store.set("shortened", "5", ttl=60)
    await store.set("shortened", "5", ttl=10)
    clock.advance(10)
    assert await store.get("shortened") is None, "the latest ttl counts, shorter or longer"


async def test_a_redis_value_set_with_a_ttl_expires_in_redis(redis_store: RedisSafeguardStore) -> None:
    await redis_store.set("short", "1", ttl=60)
    assert 0 < await redis_store.client.pttl(f"{redis_store.prefix}v:short") <= 60_000
    await redis_store.set("short", "1")
    assert await redis_store.client.pttl(f"{redis_store.prefix}v:short") == -1, "a plain set keeps it for good"


async def test_the_chat_map_forgets_a_chat_a_month_after_its_last_use() -> None:
    h = harness(non_responders=None, health=None)
    async with simulate(h.bot) as sim:
        await sim.user(ANN).send("hi")
        await sim.idle()
        await h.advance(sim, CHAT_MAP_TTL - DAY)
        await h.bot.send(ANN, "29 days later: the same conversation")  # a use: the chat's month starts again
        assert await h.budget_used("new_chats") == 0
        await sim.idle()
        await h.advance(sim, CHAT_MAP_TTL - DAY)
        await h.bot.send(ANN, "29 days after that: still the same one")
        assert await h.budget_used("new_chats") == 0
        await sim.idle()
        await h.advance(sim, CHAT_MAP_TTL + 1)
        await h.bot.send(ANN, "after a month of silence")
        assert await h.budget_used("new_chats") == 1, "a conversation silent for a month counts as a new one"
        assert [m.chat_id for m in sim.sent(ANN)].count(sim.sent(ANN)[0].chat_id) == 3, "Linq reuses its chat"


async def test_on_redis_the_chat_map_key_lives_a_month_renewed_by_use_at_most_daily(
    redis_store: RedisSafeguardStore,
) -> None:
    h = harness(store=redis_store, non_responders=None, health=None)
    async with simulate(h.bot) as sim:
        key = f"{redis_store.prefix}v:chat_of:{h.bot.client.phone_number}:{ANN}"
        ann = sim.user(ANN)
        await ann.send("hi")
        await sim.idle()
        assert CHAT_MAP_TTL - 60 < await redis_store.client.pttl(key) / 1000 <= CHAT_MAP_TTL
        await redis_store.client.pexpire(key, 3_600_000)  # as if the month had nearly run out
        await ann.send("again, the same day")
        await sim.idle()
        assert 0 < await redis_store.client.pttl(key) <= 3_600_000, "renewed at most daily: no write per message"
        await h.advance(sim, DAY)
        await ann.send("a day later")
        await sim.idle()
        assert CHAT_MAP_TTL - 60 < await redis_store.client.pttl(key) / 1000, "a day later, a use renews it"


async def test_only_a_chat_with_a_problem_keeps_a_health_key(redis_store: RedisSafeguardStore) -> None:
    h = harness(store=redis_store, non_responders=None)
    health_keys = f"{redis_store.prefix}v:health:*"
    async with simulate(h.bot, at_risk_after=2, critical_after=50) as sim:
        await sim.user(BOB).send("hi")
        await sim.idle()
        assert await redis_store.client.keys(health_keys) == [], "a HEALTHY chat leaves no key"
        for n in range(2):
            await h.bot.send(ANN, f"news {n}")
            await sim.idle()
        chat_id = sim.sent(ANN)[0].chat_id
        assert await h.bot.safeguards.directory.health(chat_id) == "AT_RISK"
        assert await redis_store.client.keys(health_keys) == [f"{redis_store.prefix}v:health:{chat_id}"]
        await sim.user(ANN).send("ok, thanks")  # answering makes the chat healthy again at Linq
        await sim.idle()
        assert await h.bot.safeguards.directory.health(chat_id) == HEALTHY
        assert await redis_store.client.keys(health_keys) == []
