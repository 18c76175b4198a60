"""The Redis inbox against a real redis-server: dedup, lanes and leases across processes, leadership, restarts."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from linqbot import Bot, Context, Safeguards
from linqbot.emulator import Emulator
from linqbot.inbox import InboxUnavailable, StoredEvent, store_from_url
from linqbot.inbox.redis_store import InboxStoreRefused, RedisLeadership, RedisStore
from tests.durability.conftest import RedisServer, outbound_count, poll_until, serve_bot


def two_stores(server: RedisServer, lock_ttl: float = 0.6) -> tuple[RedisStore, RedisStore]:
    """Two stores on one server: what two bot processes see."""
    return (
        RedisStore(server.url, lock_ttl=lock_ttl, prefix="t:{x}:"),
        RedisStore(server.url, lock_ttl=lock_ttl, prefix="t:{x}:"),
    )


async def test_dedup_lanes_and_release_are_shared_by_every_process(redis_server: RedisServer) -> None:
    a, b = two_stores(redis_server)
    await a.open()
    await b.open()
    try:
        first = StoredEvent("e1", "chat", b'{"n": 1}')
        assert await a.add(first)
        assert not await b.add(first), "a redelivery to another process is refused"
        assert await a.claim("chat")
        assert not await b.claim("chat"), "one worker per chat across processes"
        assert await b.add(StoredEvent("e2", "chat", b'{"n": 2}'))  # accepted elsewhere, lands behind
        assert await a.head("chat") == first
        await a.finish(first)
        assert not await a.release("chat"), "e2 arrived meanwhile: keep working"
        second = await a.head("chat")
        assert second is not None and second.body == b'{"n": 2}'
        await a.finish(second)
        assert await a.release("chat")
        assert await a.lanes() == []
        assert await b.claim("chat"), "free again once released"
    finally:
        await a.close()
        await b.close()


async def test_a_heartbeat_keeps_a_slow_handlers_lane_and_a_dead_process_frees_it(redis_server: RedisServer) -> None:
    a, b = two_stores(redis_server, lock_ttl=0.5)
    await a.open()
    await b.open()
    try:
        assert await a.add(StoredEvent("e1", "chat", b"{}"))
        assert await a.claim("chat")
        await asyncio.sleep(1.5)  # three lease lengths of a "slow handler": the heartbeat renews it
        assert not await b.claim("chat")
        await a.close()  # the process stops: its heartbeat ends and its lock goes back
        await poll_until_async(lambda: b.claim("chat"), 3, "another process takes the chat")
        head = await b.head("chat")
        assert head is not None and head.event_id == "e1", "the dead process's event is still there"
    finally:
        await b.close()


async def test_a_lane_key_of_the_wrong_type_is_refused_at_once_and_the_event_is_kept_for_redelivery(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_server.url, prefix="t:{x}:")
    await store.open()
    chat = "+15550100002"
    event = StoredEvent("e1", chat, b'{"n": 1}')
    try:
        with redis.Redis.from_url(redis_server.url) as other_tool:
            other_tool.hset(f"t:{{x}}:lane:{chat}", "written", "by another tool")  # the lane is a list
            with pytest.raises(InboxStoreRefused) as refused:
                await store.add(event)
            message = str(refused.value)
            assert "refused the add script on " in message and "WRONGTYPE" in message
            assert "t:{x}:lane:+1***02" in message and chat not in message and chat not in caplog.text
            assert isinstance(refused.value, InboxUnavailable), "the webhook answers 503: Linq redelivers it"
            other_tool.delete(f"t:{{x}}:lane:{chat}")  # someone fixes Redis; Linq's redelivery arrives
        assert await store.add(event), "the refused event was not taken for a duplicate"
        assert await store.claim(chat) and await store.head(chat) == event
    finally:
        await store.close()


async def poll_until_async(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def test_exactly_one_leader_and_a_quick_handover(redis_server: RedisServer) -> None:
    store = store_from_url(f"{redis_server.url}?lock_ttl=0.5&prefix=lead:{{x}}:")
    await store.open()
    contenders = [store.leadership("scheduler") for _ in range(3)]
    try:
        for contender in contenders:
            await contender.start()
        assert isinstance(contenders[0], RedisLeadership)
        assert [c.is_leader for c in contenders] == [True, False, False]
        await asyncio.sleep(1.2)  # heartbeats keep the lease; nobody else gets it
        assert [c.is_leader for c in contenders] == [True, False, False]
        await contenders[0].stop()  # resigns: the next campaign round elects another
        await asyncio.wait_for(
            asyncio.wait(
                [asyncio.create_task(c.wait_until_leader()) for c in contenders[1:]],  # type: ignore[attr-defined]
                return_when=asyncio.FIRST_COMPLETED,
            ),
            2,
        )
        assert sum(c.is_leader for c in contenders[1:]) == 1
    finally:
        for contender in contenders:
            await contender.stop()
        await store.close()


@pytest.mark.slow
async def test_redis_restart_mid_run_loses_and_doubles_nothing(redis_server: RedisServer, emulator: Emulator) -> None:
    bot = Bot(
        env_file=None,
        inbox=f"{redis_server.url}?lock_ttl=1",
        plugins="-state,-scheduler,-outreach,-commands",
        safeguards=Safeguards.off(),
    )

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply(f"re: {ctx.text}")

    people = [f"+1444{n:07d}" for n in range(20)]
    async with serve_bot(bot, emulator):
        for k in range(5):
            for person in people:
                await emulator.inbound(person, f"{person}-{k}")
        await poll_until(lambda: outbound_count(emulator) >= 20, 20, "some replies went out")
        redis_server.stop()
        for k in range(5, 10):  # arrive while Redis is down: the webhook answers 503, the emulator retries
            for person in people:
                await emulator.inbound(person, f"{person}-{k}")
        await emulator.wait_for(lambda: sum(d["status"] == 503 for d in emulator.webhook_log()) >= 50, 20)
        redis_server.start()
        await poll_until(lambda: outbound_count(emulator) >= 200, 60, "every message is answered")
        await bot.inbox.drain(10)
        await emulator.settle()
    texts = [m["text"] for m in emulator.messages(direction="outbound")]
    refused = sum(1 for d in emulator.webhook_log() if d["status"] == 503)
    print(f"\nredis restart: 200 events, {refused} deliveries refused with 503 while down, {len(texts)} replies")
    assert sorted(texts) == sorted(f"re: {p}-{k}" for p in people for k in range(10))
