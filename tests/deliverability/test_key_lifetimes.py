"""What the safeguards keep per chat or per person does not pile up for ever: every key lives as long as what it
means (a pause until it ends, a cached refusal as long as it is trusted, the loop breaker's bookkeeping a little
longer than the rounds it reads), opt-outs never lapse, the shared (line, people) → chat map forgets a chat a month
after its last use, renewed by use at most once a day, and a chat's health is kept only while it has a problem.
Time is the store's own: the safeguards' `ManualClock` for the in-memory store, Redis' TTLs for a real redis-server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from linqbot import Bot, Context
from linqbot.middleware import Flood, Health, LoopBreaker, ManualClock, MemoryStore, Safeguards, SystemClock
from linqbot.middleware.chats import CHAT_MAP_TTL, HEALTHY, UNANSWERED_FOR
from linqbot.middleware.flood import HELD_GRACE
from linqbot.middleware.redis_store import RedisSafeguardStore
from linqbot.middleware.tracking import DAY
from linqbot.outbound import RateLimited
from linqbot.outbound.errors import LineIneligible, RecipientBlocked
from linqbot.testing import Simulation, simulate
from tests.durability.conftest import RedisServer

from .conftest import Harness, harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN, BOB, CAROL, DAVE, EVE = "+15550100002", "+15550100003", "+15550100004", "+15550100005", "+15550100006"
LOOPING_BOT, HALTING_BOT = "+15550100007", "+15550100008"
FLOOD = Flood(max_messages=3, per_seconds=5)
LOOPS = LoopBreaker(rounds=2)
HEALTH = Health()
RETRY_AFTER = 3


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
    assert [await redis_store.incr("rounds", ttl=60), await redis_store.incr("rounds")] == [1, 2]
    assert 0 < await redis_store.client.pttl(f"{redis_store.prefix}v:rounds") <= 60_000, "a plain incr keeps it"


async def test_a_window_in_the_memory_store_is_forgotten_one_window_after_its_last_hit() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    await store.hit("flood:ann", "m1", 5, clock.now())
    await store.acquire("budget:line", "in:m1", 10, DAY, clock.now())
    clock.advance(4)
    await store.hit("flood:ann", "m2", 5, clock.now())
    clock.advance(4)
    assert store.held() == 2, "the flood window's last hit is 4 s old"
    clock.advance(1.5)
    assert store.held() == 1, "a person who stopped writing leaves no flood window behind"
    clock.advance(DAY)
    assert store.held() == 0


async def test_a_count_incremented_with_a_ttl_is_forgotten_by_the_memory_stores_clock() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    assert [await store.incr("rounds", ttl=60), await store.incr("rounds")] == [1, 2]
    clock.advance(59)
    assert await store.incr("rounds", ttl=60) == 3, "each increment with a ttl renews it"
    clock.advance(60)
    assert await store.get("rounds") is None


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


async def test_a_memory_store_built_without_a_clock_ages_its_keys_on_the_safeguards_clock() -> None:
    h = harness(store=MemoryStore(), non_responders=None, health=None)
    async with simulate(h.bot) as sim:
        await sim.user(ANN).send("hi")
        await sim.idle()
        await h.advance(sim, CHAT_MAP_TTL + 1)
        await h.bot.send(ANN, "after a month of silence")
        assert await h.budget_used("new_chats") == 1, "the chat map lapsed a month later on the safeguards' clock"


def test_a_memory_store_on_another_clock_than_the_safeguards_is_refused() -> None:
    with pytest.raises(ValueError, match="runs on another clock than the safeguards"):
        harness(store=MemoryStore(ManualClock()))
    clock = ManualClock()
    shared = MemoryStore(clock)
    harness(store=shared, clock=clock)
    harness(store=shared, clock=clock)  # one store for several bots on one clock is fine
    with pytest.raises(ValueError, match="runs on another clock"):
        harness(store=shared)
    wall = Bot(env_file=None, safeguards=Safeguards(store=MemoryStore(SystemClock())))
    assert wall.safeguards.clock == SystemClock(), "wall time is one clock, however many SystemClock objects"


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


async def leave_one_of_every_key(h: Harness, sim: Simulation) -> None:
    """Everything the safeguards remember, once: a conversation, a flood, a bot loop and a round of one, an opt-out,
    a 429, a blocked recipient, an ineligible line and a proactive send nobody answered."""

    @h.bot.on_message()
    async def echo(ctx: Context) -> None:
        if ctx.text != "beep":  # the halting bot's answer ends its round trip after one instant round
            await ctx.reply(f"you said: {ctx.text}")

    await sim.user(ANN).send("hi")
    await sim.user(ANN).expect_reply()
    for n in range(FLOOD.max_messages + 1):
        await sim.user(BOB).send(f"spam {n}")  # one over the limit: held
    await sim.user(EVE).send("STOP")
    bots = (LOOPING_BOT, HALTING_BOT)
    for other_bot, answer in zip(bots, ["I am a bot too", "beep"], strict=True):
        sim.emulator.set_person(other_bot, auto_reply=answer, reply_delay=0.01)
        await sim.user(other_bot).send("hello")
    emulator = sim.emulator
    await emulator.wait_for(lambda: [len(emulator.messages(handle=b, direction="inbound")) for b in bots] == [3, 2])
    await sim.idle()
    assert len(sim.sent(LOOPING_BOT)) == 2, "the second instant round was not answered: the chat cools down"
    assert len(sim.sent(HALTING_BOT)) == 1

    await h.bot.send("+15550100010", "news")  # a new conversation, unanswered
    sim.emulator.set_faults({"rate_limit_storm": 1, "storm_retry_after": RETRY_AFTER})
    with pytest.raises(RateLimited):
        await h.bot.send(CAROL, "news")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.emulator.api_key}"}) as session:
        block = await session.post(f"{sim.emulator.base_url}/v3/blocked_handles", json={"handle": DAVE})
        assert block.status == 200
    with pytest.raises(RecipientBlocked):
        await h.bot.send(DAVE, "news")
    sim.emulator.set_line_status(sim.emulator.line, status="FLAGGED")
    with pytest.raises(LineIneligible):
        await h.bot.send("+15550100009", "news")
    await sim.idle()  # the line stays FLAGGED: Linq reporting it ACTIVE would end the cached 2027 at once


def lifetimes(line: str) -> dict[str, float]:
    """The per-person and per-line keys one of everything leaves behind, and how long each one means something."""
    people = (ANN, BOB, LOOPING_BOT, HALTING_BOT, EVE, "+15550100010")
    chat_of = {handle: f"chat_of:{line}:{handle}" for handle in people}
    return {
        f"paused:pair:{line}:{CAROL}": RETRY_AFTER,  # until Linq's Retry-After is over
        f"flood_held:{BOB}": FLOOD.per_seconds + HELD_GRACE,  # the burst it belongs to, handled late or not
        f"ineligible:{line}": HEALTH.ineligible_ttl,  # as long as Linq's 2027 is trusted
        f"blocked:{DAVE}": HEALTH.blocked_ttl,  # as long as Linq's 2026 is trusted
        **{key: CHAT_MAP_TTL for key in chat_of.values()},
    }


def _chat_keys(h: Harness, sim: Simulation) -> dict[str, float]:
    """The per-chat keys of the loop breaker: a little longer than the rounds they read, the cooldown until it ends."""
    looping, halting = sim.sent(LOOPING_BOT)[0].chat_id, sim.sent(HALTING_BOT)[0].chat_id
    keys = {f"loop_cooldown:{looping}": LOOPS.cooldown, f"loop_rounds:{halting}": LOOPS.remember}
    for chat_id in (looping, halting, sim.sent(ANN)[0].chat_id):
        keys |= {f"loop_in:{chat_id}": LOOPS.remember, f"sent_at:{chat_id}": LOOPS.remember}
    return keys


async def test_every_value_in_the_memory_store_lapses_when_its_meaning_does_and_opt_outs_never() -> None:
    h = harness(flood=FLOOD, loop_breaker=LOOPS, health=HEALTH, non_responders=None)
    async with simulate(h.bot) as sim:
        await leave_one_of_every_key(h, sim)
        line = h.bot.client.phone_number
        assert line is not None
        expected = lifetimes(line) | _chat_keys(h, sim)
        store, start = h.bot.safeguards.store, h.clock.now()
        for lifetime in sorted(set(expected.values())):
            keys = [key for key, lasts in expected.items() if lasts == lifetime]
            h.clock.advance(start + lifetime - 0.5 - h.clock.now())
            assert None not in await store.get_many(keys), f"{keys} are still meant to be there"
            h.clock.advance(1)
            assert await store.get_many(keys) == [None] * len(keys), f"{keys} outlived their meaning ({lifetime} s)"
        assert await h.bot.safeguards.is_opted_out(EVE), "an opt-out never lapses"


LIFETIMES = {  # by kind of key: the longest each one may live in Redis
    "v:paused": RETRY_AFTER,
    "v:flood_held": FLOOD.per_seconds + HELD_GRACE,
    "v:ineligible": HEALTH.ineligible_ttl,
    "v:blocked": HEALTH.blocked_ttl,
    "v:loop_in": LOOPS.remember,
    "v:sent_at": LOOPS.remember,
    "v:loop_rounds": LOOPS.remember,
    "v:loop_cooldown": LOOPS.cooldown,
    "v:chat_of": CHAT_MAP_TTL,
    "w:budget": DAY,  # a window lives one window length after its last hit
    "w:new_chats": DAY,
    "w:flood": FLOOD.per_seconds,
    "w:pair": 63.0,  # Linq's 60 s and the margin
    "w:unanswered": UNANSWERED_FOR,  # as far back as the non-responder rule looks
}
FOREVER = {"v:opt_out", "v:line", "v:health"}
"""Opt-outs; a line's reputation and status (a handful of keys); a chat's health while Linq scores it unhealthy."""


async def test_every_key_in_redis_has_a_lifetime_that_matches_its_meaning(redis_store: RedisSafeguardStore) -> None:
    h = harness(store=redis_store, flood=FLOOD, loop_breaker=LOOPS, health=HEALTH, non_responders=None)
    async with simulate(h.bot) as sim:
        await leave_one_of_every_key(h, sim)
        found = {key: await redis_store.client.pttl(key) for key in await redis_store.client.keys("*")}
    seen: set[str] = set()
    for key, ttl in found.items():
        kind = ":".join(key.removeprefix(redis_store.prefix).split(":")[:2])
        seen.add(kind)
        if kind in FOREVER:
            assert ttl == -1, key
        else:
            assert kind in LIFETIMES, f"{key}: a key of no known kind"
            assert 0 < ttl / 1000 <= LIFETIMES[kind], f"{key} lives {ttl / 1000} s"
    assert seen == set(LIFETIMES) | FOREVER, "the scenario left one of every kind"
