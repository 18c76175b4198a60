"""The Redis state store through a restart, a long outage, a refused command and a write cut off mid-way
(a real redis-server of the test's own, persisting with AOF)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis
from linqbot_state import RedisStore, StateContext, StateStoreError, StateStoreUnavailable

from linqbot import Bot
from linqbot.middleware import Safeguards
from linqbot.redact import mask_handle
from linqbot.testing import simulate
from tests.durability.conftest import RedisServer, free_port, poll_until

pytestmark = pytest.mark.usefixtures("linq_env")

ANN = "+15550100002"


def counting_bot(store: RedisStore) -> Bot:
    """Counts each person's messages in their state and answers with the count."""
    bot = Bot(env_file=None, plugins="state", safeguards=Safeguards.off())
    bot.state_store = store  # type: ignore[attr-defined]

    @bot.on_message()
    async def count(ctx: StateContext) -> None:
        seen = await ctx.person_state.update(lambda state: {"count": state.get("count", 0) + 1})
        await ctx.reply(f"message {seen['count']}")

    return bot


async def test_a_handler_using_state_during_a_redis_restart_answers_once_redis_is_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_server.url)
    bot = counting_bot(store)
    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        await ann.send("one")
        assert (await ann.expect_reply()).text == "message 1"
        redis_server.stop()
        await ann.send("two")
        await poll_until(lambda: "state: Redis unreachable" in caplog.text, 10, "the handler waits for Redis")
        assert [m.text for m in sim.sent(ANN)] == ["message 1"]
        redis_server.start()
        assert (await ann.expect_reply(timeout=20)).text == "message 2", "counted once, nothing lost"
    await store.close()


async def test_redis_down_past_its_patience_raises_a_typed_error_and_the_store_recovers(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(redis_server.url, patience=0.3)
    await store.set("chat:c1", "name", "Ann")
    redis_server.stop()
    with pytest.raises(StateStoreUnavailable, match=r"unreachable .* after 0.3 s"):
        await store.get("chat:c1", "name")
    redis_server.start()
    assert await store.get("chat:c1", "name") == "Ann"
    await store.close()


async def test_a_key_another_tool_wrote_is_refused_at_once_naming_it_with_handles_masked(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_server.url)  # 30 s of patience for an unreachable Redis
    scope = f"person:{ANN}"
    with redis.Redis.from_url(redis_server.url) as other_tool:
        other_tool.hset(f"{store.prefix}{scope}", "written", "by another tool")
    for use in (lambda: store.get(scope, "name"), lambda: store.set(scope, "name", "Ann")):
        with pytest.raises(StateStoreError) as refused:
            await asyncio.wait_for(use(), 5)  # answered, not retried for 30 s
        message = str(refused.value)
        assert not isinstance(refused.value, StateStoreUnavailable)
        assert "refused" in message and "WRONGTYPE" in message
        assert mask_handle(ANN) in message and ANN not in message and ANN not in caplog.text
    await store.close()


async def test_a_refused_write_names_neither_the_number_nor_the_value(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url)
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.config_set("maxmemory", 1)  # every write now answers OOM
        with pytest.raises(StateStoreError) as refused:
            await asyncio.wait_for(store.person(ANN).set("secret", "s3cr3t-value"), 5)  # refused, not retried
        admin.config_set("maxmemory", 0)
    message = str(refused.value)
    assert "maxmemory" in message and mask_handle(ANN) in message
    assert ANN not in message and "s3cr3t-value" not in message, "redis-py quotes the command: not passed on"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__, "nor in a traceback"
    await store.close()


async def test_a_write_during_a_failover_waits_for_a_writable_primary(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_server.url)
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.replicaof("127.0.0.1", free_port())  # demoted: the write's EXEC is refused with READONLY
        write = asyncio.ensure_future(store.update("chat:c1", lambda state: {"n": state.get("n", 0) + 1}))
        await poll_until(lambda: "ReadOnlyError" in caplog.text, 10, "the write meets READONLY")
        assert not write.done()
        admin.replicaof("NO", "ONE")  # promoted again, as a failover's new primary
    assert await asyncio.wait_for(write, 20) == {"n": 1}, "applied once: a refused EXEC wrote nothing"
    await store.close()


async def test_writers_queued_behind_an_outage_give_up_together(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, patience=1.0)
    await store.set("chat:c1", "n", 0)
    redis_server.stop()
    started = time.monotonic()
    writes = [store.set("chat:c1", "n", n) for n in range(3)]  # one at a time: they queue for the key
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert all(isinstance(outcome, StateStoreUnavailable) for outcome in outcomes)
    assert time.monotonic() - started < 2.5, "each waited out the same patience, not one after another (3 s)"
    redis_server.start()
    await store.close()


async def test_a_write_cut_off_during_its_exec_is_reported_not_repeated(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url)
    await store.set("chat:c1", "count", 1)
    computed: list[int] = []

    def bump_while_redis_dies(state: dict[str, Any]) -> dict[str, Any]:
        computed.append(state["count"])
        redis_server.stop()  # between the read and the EXEC
        return {"count": state["count"] + 1}

    with pytest.raises(StateStoreUnavailable, match="may or may not have been applied"):
        await store.update("chat:c1", bump_while_redis_dies)
    assert computed == [1], "not retried: a counter must not be bumped twice"
    redis_server.start()
    assert await store.get("chat:c1", "count") == 1
    await store.close()


async def test_a_real_conflict_met_inside_a_handlers_except_block_is_computed_again(redis_server: RedisServer) -> None:
    """redis-py raises a real WATCH conflict ``from None``: the exception the handler is handling is no lost
    connection, so the update is recomputed from what the other writer wrote, not reported as cut off."""
    store = RedisStore(redis_server.url)
    computed: list[dict[str, Any]] = []

    def add_mine(state: dict[str, Any]) -> dict[str, Any]:
        computed.append(dict(state))
        if len(computed) == 1:  # another process writes between this update's read and its EXEC
            with redis.Redis.from_url(redis_server.url) as other:
                other.set(f"{store.prefix}chat:c1", json.dumps({"theirs": [1, None]}))
        return {**state, "mine": 2}

    try:
        raise OSError("the handler's own failure, being handled")
    except OSError:
        result = await store.update("chat:c1", add_mine)
    assert computed == [{}, {"theirs": 1}] and result == {"theirs": 1, "mine": 2}
    assert await store.items("chat:c1") == {"theirs": 1, "mine": 2}
    await store.close()
