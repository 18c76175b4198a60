"""The safeguards' Redis store against a real redis-server: the same answers as the in-memory store, one window for
every process sharing it (two bots here, three processes in tests/durability/test_scale_out.py), and sends
held — never sent unpaced — while Redis is down."""

from __future__ import annotations

import asyncio
import math

import pytest
import redis

from linqbot import Bot
from linqbot.middleware import (
    ManualClock,
    MemoryStore,
    NewChatBudgetExhausted,
    Pacing,
    SafeguardHold,
    Safeguards,
    SafeguardStoreUnavailable,
)
from linqbot.middleware.redis_store import RedisSafeguardStore, SafeguardStoreRefused
from linqbot.middleware.store import SafeguardStore
from linqbot.outbound import RetryPolicy
from linqbot.redact import mask_handle
from linqbot.testing import simulate
from tests.durability.conftest import RedisServer, free_port, poll_until

pytestmark = pytest.mark.usefixtures("linq_env")

NOW = 1_700_000_000.0
ANN = "+15550100002"


async def test_acquire_grants_up_to_the_limit_then_says_how_long_to_wait(store: SafeguardStore) -> None:
    assert [await store.acquire("pair", f"m{n}", 3, 60, NOW + n) for n in range(3)] == [0.0, 0.0, 0.0]
    assert await store.acquire("pair", "m3", 3, 60, NOW + 10) == 50.0, "the oldest hit (at NOW) leaves at +60"
    assert await store.count("pair", 60, NOW + 10) == 3, "a refused acquire records nothing"
    assert await store.acquire("pair", "m3", 3, 60, NOW + 60) == 0.0, "the hit at NOW has left the window"
    assert await store.acquire("other", "m3", 3, 60, NOW + 10) == 0.0, "windows are per key"


async def test_a_limit_of_0_never_fits_a_hit_and_records_nothing(store: SafeguardStore) -> None:
    assert await store.acquire("budget", "out:k1", 0, 60, NOW) == math.inf
    await store.hit("budget", "in:m1", 60, NOW)
    assert await store.acquire("budget", "out:k2", 0, 60, NOW + 1) == math.inf, "also with hits in the window"
    assert await store.acquire("budget", "in:m1", 0, 60, NOW + 1) is None, "what is counted already stays counted"
    assert await store.count("budget", 60, NOW + 1) == 1


async def test_a_member_counts_once_however_often_it_is_hit(store: SafeguardStore) -> None:
    assert await store.acquire("budget", "out:k1", 2, 60, NOW) == 0.0
    assert await store.acquire("budget", "out:k1", 2, 60, NOW + 1) is None, "already counted: nothing recorded"
    assert await store.hit("budget", "in:m1", 60, NOW + 2) == 2
    assert await store.hit("budget", "in:m1", 60, NOW + 3) == 2, "the same inbound message again adds nothing"
    assert await store.count("budget", 60, NOW + 3) == 2
    assert await store.acquire("budget", "out:k2", 2, 60, NOW + 4) == 56.0, "a new message still meets the limit"
    assert await store.acquire("budget", "out:k1", 2, 60, NOW + 4) is None, "a repeat is let through at the limit"
    assert await store.acquire("budget", "out:k1", 2, 60, NOW + 60) == 0.0, "out of the window it counts anew"


async def test_release_gives_back_exactly_that_member(store: SafeguardStore) -> None:
    for n, member in enumerate(["a", "b", "c"]):
        await store.acquire("pair", member, 3, 60, NOW + n % 2)  # b is stamped NOW + 1, a and c both NOW
    await store.release("pair", "c")
    assert await store.count("pair", 60, NOW + 2) == 2
    assert await store.acquire("pair", "a", 3, 60, NOW + 2) is None, "a, stamped like c, is still counted"
    assert await store.acquire("pair", "c", 3, 60, NOW + 2) == 0.0, "the slot c gave back is free again"
    assert await store.acquire("pair", "d", 3, 60, NOW + 2) == 58.0
    await store.release("pair", "never-taken")
    assert await store.count("pair", 60, NOW + 2) == 3, "releasing an unknown member takes nothing back"


async def test_hit_counts_the_window_and_old_hits_fall_out(store: SafeguardStore) -> None:
    assert [await store.hit("flood", f"m{n}", 10, NOW + n) for n in range(4)] == [1, 2, 3, 4]
    assert await store.hit("flood", "m4", 10, NOW + 11.5) == 3, "the hits at NOW and NOW+1 are over 10 s old"
    assert await store.count("flood", 10, NOW + 30) == 0
    assert [await store.hit("late", member, 10, NOW + at) for member, at in [("b", 5), ("a", 1)]] == [1, 2]
    assert await store.count("late", 10, NOW + 11.5) == 1, "a hit stamped earlier than the newest leaves by its stamp"


async def test_values_set_get_delete_and_incr(store: SafeguardStore) -> None:
    assert await store.get("opt_out:ann") is None
    await store.set("opt_out:ann", "1")
    assert await store.get("opt_out:ann") == "1"
    await store.delete("opt_out:ann")
    assert await store.get("opt_out:ann") is None
    assert [await store.incr("rounds") for _ in range(3)] == [1, 2, 3]
    await store.set("pair", "a value")
    assert await store.count("pair", 60, NOW) == 0, "values and windows do not collide"


async def test_several_values_are_read_together_and_deleted_together_with_windows(store: SafeguardStore) -> None:
    await store.set("opt_out:ann", "1")
    await store.set("blocked:bob", "2")
    assert await store.get_many(["opt_out:ann", "missing", "blocked:bob"]) == ["1", None, "2"]
    assert await store.get_many([]) == []
    await store.hit("unanswered:ann", "out:k1", 60, NOW)
    await store.delete("unanswered:ann", "opt_out:ann", "never-set")
    assert await store.count("unanswered:ann", 60, NOW) == 0, "delete drops a window too"
    assert await store.get_many(["opt_out:ann", "blocked:bob"]) == [None, "2"]


async def test_processes_racing_for_the_last_slots_get_exactly_the_limit(redis_server: RedisServer) -> None:
    stores = [RedisSafeguardStore(redis_server.url) for _ in range(3)]  # three connections, as three processes
    try:
        waits = await asyncio.gather(*(stores[n % 3].acquire("pair", f"m{n}", 30, 60, NOW) for n in range(150)))
    finally:
        for store in stores:
            await store.aclose()
    assert waits.count(0.0) == 30
    assert all(wait == 60.0 for wait in waits if wait)


def pacing_bot(
    redis_url: str,
    clock: ManualClock,
    store: SafeguardStore | None = None,
    redis_patience: float = 30.0,
    new_chats_per_day: int = 50,
) -> Bot:
    """A bot on the shared Redis inbox with a 3-per-60 s pair limit and only pacing between it and Linq."""
    settings = Safeguards(
        pacing=Pacing(per_pair=3, new_chats_per_day=new_chats_per_day),
        typing=None,
        health=None,
        non_responders=None,
        clock=clock,
        store=store,
        redis_patience=redis_patience,
    )
    return Bot(env_file=None, inbox=redis_url, safeguards=settings, retry=RetryPolicy(max_attempts=1))


async def test_two_bots_on_one_redis_inbox_share_each_pair_window(redis_server: RedisServer) -> None:
    clock = ManualClock()
    first, second = pacing_bot(redis_server.url, clock), pacing_bot(redis_server.url, clock)
    async with simulate(first) as sim, simulate(second, emulator=sim.emulator):
        assert isinstance(first.safeguards.store, RedisSafeguardStore), "a Redis inbox brings the Redis store"
        for bot, text in [(first, "a1"), (second, "b1"), (first, "a2")]:
            await bot.send(ANN, text)
        fourth = asyncio.ensure_future(second.send(ANN, "b2"))
        await clock.wait_for_sleepers(1)
        assert len(sim.sent(ANN)) == 3, "the second bot waits for the window the first one used"
        await sim.advance(120)  # past the window and any safety margin pacing adds to it
        clock.advance(120)
        await asyncio.wait_for(fourth, 5)
        assert [m.text for m in sim.sent(ANN)] == ["a1", "b1", "a2", "b2"]


async def test_a_chat_one_process_opened_is_no_new_conversation_for_another(redis_server: RedisServer) -> None:
    clock = ManualClock()
    first, second = (pacing_bot(redis_server.url, clock, new_chats_per_day=1) for _ in range(2))
    async with simulate(first) as sim, simulate(second, emulator=sim.emulator):
        await first.send(ANN, "welcome")
        # The second process never saw this chat; the shared store tells it the chat exists (the scheduler's
        # leader sending a reminder to someone whose messages other processes handled is this case).
        await second.send(ANN, "a follow-up in the existing chat")
        with pytest.raises(NewChatBudgetExhausted):
            await second.send("+15550100003", "a brand-new conversation is still budgeted")
        assert [m.text for m in sim.sent(ANN)] == ["welcome", "a follow-up in the existing chat"]


async def test_a_store_passed_by_the_user_wins_over_the_redis_inbox(redis_server: RedisServer) -> None:
    mine = MemoryStore()
    bot = pacing_bot(redis_server.url, ManualClock(), store=mine)
    async with simulate(bot):
        assert bot.safeguards.store is mine


async def test_a_send_during_a_redis_restart_waits_for_it_and_goes_out(redis_server: RedisServer) -> None:
    bot = pacing_bot(redis_server.url, ManualClock())
    async with simulate(bot) as sim:
        await bot.send(ANN, "before")
        redis_server.stop()
        during = asyncio.ensure_future(bot.send(ANN, "during"))
        await asyncio.sleep(0)  # let the send reach the store and find Redis gone
        assert not during.done() and [m.text for m in sim.sent(ANN)] == ["before"]
        redis_server.start()
        await asyncio.wait_for(during, 20)
        assert [m.text for m in sim.sent(ANN)] == ["before", "during"]


async def test_redis_down_past_its_patience_holds_sends_with_a_typed_error_and_nothing_reaches_linq(
    redis_server: RedisServer,
) -> None:
    bot = pacing_bot(redis_server.url, ManualClock(), redis_patience=0.5)
    async with simulate(bot) as sim:
        await bot.send(ANN, "before")
        redis_server.stop()
        with pytest.raises(SafeguardStoreUnavailable, match=r"unreachable.*nothing was sent") as refused:
            await bot.send(ANN, "during")
        assert isinstance(refused.value, SafeguardHold), "handlers that catch holds catch this one too"
        assert [m.text for m in sim.sent(ANN)] == ["before"]
        redis_server.start()
        await bot.send(ANN, "after")
        assert [m.text for m in sim.sent(ANN)] == ["before", "after"]


async def test_a_window_of_the_wrong_type_refuses_the_send_at_once_naming_key_and_redis_message(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot = pacing_bot(redis_server.url, ManualClock())  # 30 s of patience for an unreachable Redis
    async with simulate(bot) as sim:
        await bot.send(ANN, "before")
        with redis.Redis.from_url(redis_server.url) as other_tool:
            [window] = other_tool.keys("*w:pair:*")  # the pair's sliding window, a sorted set
            other_tool.delete(window)
            other_tool.hset(window, "written", "by another tool")
        with pytest.raises(SafeguardStoreRefused) as refused:
            await asyncio.wait_for(bot.send(ANN, "during"), 10)  # answered, not retried for 30 s
        message = str(refused.value)
        assert "refused the acquire script on " in message and "WRONGTYPE" in message and "nothing was sent" in message
        assert f"pair:{mask_handle(sim.emulator.line)}:{mask_handle(ANN)}" in message, "the key, its handles masked"
        assert "unreachable" not in message
        assert ANN not in message and ANN not in caplog.text
        assert isinstance(refused.value, SafeguardHold), "fails closed like every hold"
        assert [m.text for m in sim.sent(ANN)] == ["before"]


async def test_a_send_during_a_failover_waits_for_a_writable_primary_and_goes_out(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot = pacing_bot(redis_server.url, ManualClock())
    async with simulate(bot) as sim:
        await bot.send(ANN, "before")
        with redis.Redis.from_url(redis_server.url) as admin:
            admin.replicaof("127.0.0.1", free_port())  # demoted to a replica: writes answer READONLY
            during = asyncio.ensure_future(bot.send(ANN, "during"))
            await poll_until(lambda: "ReadOnlyError" in caplog.text, 10, "a write meets READONLY")
            assert not during.done() and [m.text for m in sim.sent(ANN)] == ["before"]
            admin.replicaof("NO", "ONE")  # promoted again, as a failover's new primary
        await asyncio.wait_for(during, 20)
        assert [m.text for m in sim.sent(ANN)] == ["before", "during"]
