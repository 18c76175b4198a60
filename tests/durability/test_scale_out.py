"""Three bot processes share one redis-server; a load balancer in front spreads Linq's deliveries at random.

Phase 1 checks the guarantees under duplicates and concurrency: every event runs exactly once (counted by the
handlers in Redis), and each chat's replies come out in the order its messages were delivered although consecutive
messages land on different processes. Phase 2 SIGKILLs one instance mid-stream: the load balancer answers 502 for
it (Linq retries), its leased chats pass to the survivors once the lease lapses, and nobody loses or gets a second
reply.

The bots run with the default ``lock_ttl`` (10 s), whose heartbeat outlasts the stalls of a loaded CI box; the waits
below are deadlines on conditions, generous for the same reason (the work itself takes well under a minute).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from linqbot.emulator import Emulator
from tests.durability.balancer import RandomBalancer
from tests.durability.conftest import BotProcess, RedisServer, bot_env, free_port, outbound_count, poll_until, subscribe

PEOPLE = 150
PER_PHASE = 10  # messages per person per phase: 2 x 1,500 = 3,000 events
RUNS_KEY = "test:runs"
DEADLINE = 600.0
"""Seconds each phase may take on a starved machine (a deadline, not a wait: the test goes on as soon as it is done)."""


async def stream(emulator: Emulator, people: list[str], phase: int) -> AsyncIterator[None]:
    for k in range(PER_PHASE):
        for person in people:
            await emulator.inbound(person, f"{person}|{phase}|{k}")
        yield


def replies_by_person(emulator: Emulator) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in emulator.messages(direction="outbound"):
        found.setdefault(message["to"][0], []).append(message["text"])
    return found


@pytest.mark.slow
async def test_three_processes_share_the_work_once_in_order_and_survive_a_kill(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = random.Random(63)
    emulator = Emulator(webhook_attempts=40, webhook_backoff=0.2, webhook_backoff_max=2.0, read_delay=0)
    emulator.set_faults({"seed": 6, "webhook_duplicate_rate": 0.2})
    await emulator.start("127.0.0.1")
    people = [f"+1444{n:07d}" for n in range(PEOPLE)]
    started = time.monotonic()
    bots: list[BotProcess] = []
    try:
        backends = [BotProcess({}, free_port(), tmp_path / f"bot{n}.log") for n in range(3)]
        async with RandomBalancer(backends, rng) as balancer:
            secret = await subscribe(emulator, balancer.url)
            env = bot_env(
                emulator,
                secret,
                LINQBOT_INBOX_URL=redis_server.url,
                CRASH_BOT_RUNS_KEY=RUNS_KEY,
                CRASH_BOT_SAFEGUARDS="off",
            )
            for bot in backends:
                bot.env = env
            bots = backends
            await asyncio.gather(*(bot.start(timeout=60) for bot in bots))  # a loaded CI box imports slowly

            async for _ in stream(emulator, people, 1):
                pass
            await poll_until(lambda: outbound_count(emulator) >= PEOPLE * PER_PHASE, DEADLINE, "phase 1 is answered")
            await emulator.settle()
            counted = redis.Redis.from_url(redis_server.url, decode_responses=True).hgetall(RUNS_KEY)
            runs = {str(k): int(v) for k, v in counted.items()}
            phase1 = replies_by_person(emulator)
            spread = dict(balancer.forwarded)

            victim = bots[0]
            async for _ in stream(emulator, people, 2):
                if victim.process is not None and victim.process.poll() is None and rng.random() < 0.3:
                    victim.kill()
            if victim.process is not None and victim.process.poll() is None:
                victim.kill()
            # the dead one stays in rotation: the balancer answers 502 for it and the emulator retries
            await poll_until(
                lambda: outbound_count(emulator) >= 2 * PEOPLE * PER_PHASE, DEADLINE, "phase 2 is answered"
            )
            await emulator.settle()
        wall = time.monotonic() - started
        accepted = [d["event_id"] for d in emulator.webhook_log() if d["status"] == 200]
    finally:
        for bot in bots:
            bot.stop()
        await emulator.stop()

    inbound_events = PEOPLE * PER_PHASE
    assert len(set(accepted)) == 2 * inbound_events
    duplicates_delivered = len(accepted) - len(set(accepted))
    assert len(runs) == inbound_events and set(runs.values()) == {1}, "phase 1: every event ran exactly once"
    for person, texts in phase1.items():
        assert texts == [f"re: {person}|1|{k}" for k in range(PER_PHASE)], f"order kept for {person}"
    assert min(spread.values()) > inbound_events / 6, f"all three processes took deliveries: {spread}"

    final = replies_by_person(emulator)
    got = Counter(text for texts in final.values() for text in texts)
    expected = {f"re: {p}|{phase}|{k}" for p in people for phase in (1, 2) for k in range(PER_PHASE)}
    lost = len(expected - set(got))
    doubled = sum(count - 1 for count in got.values() if count > 1)
    print(
        f"\nscale-out: {2 * inbound_events} events over 3 processes {spread}, {duplicates_delivered} duplicate "
        f"deliveries accepted, 1 process killed; replies={sum(got.values())}, lost={lost}, doubled={doubled}, "
        f"wall={wall:.1f}s"
    )
    assert lost == 0
    assert doubled == 0
