"""A bot process that stalls (SIGSTOP, standing in for CPU starvation or a long GC pause) while it holds a chat on
the shared Redis inbox, next to a healthy one.

A stall shorter than the lease costs nothing: the chat waits for its holder and every event runs once, in order.
A stall longer than the lease hands the chat to the other process; once the stalled one resumes it is *fenced*: it
neither marks the new holder's event done nor starts another of the chat's events, so only the handler that was
running during the stall runs twice (at-least-once, as after a kill) and the chat's order holds.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from linqbot.emulator import Emulator
from tests.durability.balancer import RandomBalancer
from tests.durability.conftest import BotProcess, RedisServer, bot_env, free_port, poll_until, subscribe

RUNS_KEY = "test:runs"
PERSON = "+14440000001"
LOCKS = "linqbot:{inbox}:lock:*"


@dataclass
class Pair:
    emulator: Emulator
    balancer: RandomBalancer
    stalled: BotProcess
    healthy: BotProcess
    redis: redis.Redis


@asynccontextmanager
async def two_processes(server: RedisServer, tmp_path: Path, inbox_options: str) -> AsyncIterator[Pair]:
    emulator = Emulator(webhook_attempts=40, webhook_backoff=0.2, webhook_backoff_max=2.0, read_delay=0)
    await emulator.start("127.0.0.1")
    bots = [BotProcess({}, free_port(), tmp_path / f"bot{n}.log") for n in range(2)]
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        async with RandomBalancer(bots, random.Random(7)) as balancer:
            env = bot_env(
                emulator,
                await subscribe(emulator, balancer.url),
                LINQBOT_INBOX_URL=f"{server.url}{inbox_options}",
                CRASH_BOT_RUNS_KEY=RUNS_KEY,
                CRASH_BOT_SAFEGUARDS="off",
            )
            for bot in bots:
                bot.env = env
            await asyncio.gather(*(bot.start(timeout=60) for bot in bots))  # a loaded CI box imports slowly
            yield Pair(emulator, balancer, bots[0], bots[1], client)
    finally:
        for bot in bots:
            if bot.process is not None and bot.process.poll() is None:
                bot.process.send_signal(signal.SIGCONT)
            bot.stop()
        client.close()
        await emulator.stop()


async def stall_while_holding_the_chat(pair: Pair) -> tuple[str, str, list[str]]:
    """The first process takes the chat and starts a 2 s handler; it is stopped there, and three more messages for
    the chat reach the other process meanwhile. Returns the slow event's id, the first process's lock owner id and
    the texts in the order the inbox accepted them (the order the chat's replies must keep)."""
    sent: dict[str, str] = {}  # event id -> text

    async def send(text: str) -> None:
        delivered = await pair.emulator.inbound(PERSON, text)
        sent[str(delivered["event_ids"][-1])] = text  # its message.received comes last

    def accepted() -> list[str]:
        ids = [d["event_id"] for d in pair.emulator.webhook_log() if d["status"] == 200]
        return [sent[event_id] for event_id in dict.fromkeys(ids) if event_id in sent]

    pair.balancer.pinned = pair.stalled
    for text in ["slow:2", f"{PERSON}|0", f"{PERSON}|1"]:
        await send(text)
    await pair.emulator.wait_for(lambda: len(accepted()) == 3, 60)
    await poll_until(lambda: bool(pair.redis.keys(LOCKS)), 60, "the first process works the chat")
    assert pair.stalled.process is not None
    pair.stalled.process.send_signal(signal.SIGSTOP)
    (lock,) = pair.redis.keys(LOCKS)
    owner = pair.redis.get(lock)
    assert isinstance(owner, str)
    pair.balancer.pinned = pair.healthy
    for k in range(2, 5):
        await send(f"{PERSON}|{k}")
    await pair.emulator.wait_for(lambda: len(accepted()) == 6, 60)
    slow_event = next(event_id for event_id, text in sent.items() if text == "slow:2")
    return slow_event, owner, accepted()


def replies(emulator: Emulator) -> list[str]:
    return [str(m["text"]) for m in emulator.messages(direction="outbound")]


def resume(bot: BotProcess) -> None:
    assert bot.process is not None
    bot.process.send_signal(signal.SIGCONT)


@pytest.mark.slow
async def test_a_stall_shorter_than_the_lease_keeps_the_chat_and_runs_each_event_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with two_processes(redis_server, tmp_path, "") as pair:  # the default lock_ttl (10 s)
        _, owner, texts = await stall_while_holding_the_chat(pair)
        # Stopped for three times the 1 s lease the scale-out test used to run with: the heartbeat's lease must
        # outlast it, or the healthy process (sweeping every 2 s) takes the chat and runs the slow event again.
        await asyncio.sleep(3.0)  # the fault being injected, not a wait for a result
        assert [pair.redis.get(lock) for lock in pair.redis.keys(LOCKS)] == [owner], "nobody took the chat"
        resume(pair.stalled)
        await poll_until(lambda: len(replies(pair.emulator)) >= len(texts), 60, "every message is answered")
        await pair.emulator.settle()
        runs = {str(k): int(v) for k, v in pair.redis.hgetall(RUNS_KEY).items()}
        assert replies(pair.emulator) == [f"re: {text}" for text in texts], "answered once each, in order"
    assert len(runs) == len(texts) and set(runs.values()) == {1}, f"every event ran exactly once: {runs}"


@pytest.mark.slow
async def test_a_process_stalled_past_its_lease_is_fenced_off_the_chat_it_lost(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with two_processes(redis_server, tmp_path, "?lock_ttl=1") as pair:
        slow_event, owner, texts = await stall_while_holding_the_chat(pair)
        await poll_until(
            lambda: any(pair.redis.get(lock) not in (None, owner) for lock in pair.redis.keys(LOCKS)),
            60,
            "the healthy process takes the chat over once the stalled one's lease lapsed",
        )
        # The healthy process is now re-running the 2 s slow event; the stalled one wakes with that event's handler
        # done and the rest of the chat queued: it must neither mark it done nor run the next one.
        resume(pair.stalled)
        await poll_until(lambda: len(set(replies(pair.emulator))) >= len(texts), 60, "every message is answered")
        await pair.emulator.settle()
        runs = {str(k): int(v) for k, v in pair.redis.hgetall(RUNS_KEY).items()}
        answered = replies(pair.emulator)
    assert runs.pop(slow_event) <= 2, "the handler cut off by the stall may run again, once"
    assert len(runs) == len(texts) - 1 and set(runs.values()) == {1}, f"every other event ran exactly once: {runs}"
    in_order = [text for n, text in enumerate(answered) if n == 0 or answered[n - 1] != text]
    assert in_order == [f"re: {text}" for text in texts], f"the chat's order held: {answered}"
