"""Three bot processes on one redis-server share more than the inbox: the safeguards' pair windows, conversation
state and scheduled jobs (tests/durability/shared_bot.py). A random load balancer spreads Linq's deliveries, the
process leading the scheduler is SIGKILLed mid-stream, and the emulator's record of what reached "Linq" shows:

* pair pacing held globally: no (line, person) pair got more than ``PAIR_LIMIT`` messages in any ``PAIR_WINDOW``
  seconds, although each process alone would have allowed that many (the emulator records rather than refuses, so
  an overshoot shows up instead of being absorbed by a 429 and a retry);
* the handlers read and wrote one shared state: each reply numbers the sender's messages so far, and the numbers run
  1..N per person whichever process answered; the state holds N ids per person at the end;
* every scheduled reminder (one per person, created by handlers on whichever process got the first message) was
  sent exactly once, some by the first leader and some by its successor after the kill;
* the kill lost nothing and doubled nothing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from linqbot_state import RedisStore as StateRedisStore

from linqbot.emulator import Emulator
from tests.durability.balancer import RandomBalancer
from tests.durability.conftest import (
    HERE,
    BotProcess,
    RedisServer,
    bot_env,
    free_port,
    outbound_count,
    poll_until,
    subscribe,
)

PEOPLE = 24
MESSAGES = 8  # per person, sent back to back: 8 replies at 3 per window take three windows
PAIR_LIMIT, PAIR_WINDOW = 3, 2.0
KILL_AFTER = 5  # rounds streamed before the scheduler's leader is killed: the last two wait for their pair window
REMINDERS_BEFORE_KILL = 3
LEADS = "this process leads and runs the scheduled jobs"


def sent_by_person(emulator: Emulator) -> dict[str, list[tuple[datetime, str]]]:
    """Each person's replies and reminders as (time Linq accepted the send, text), in that order."""
    found: dict[str, list[tuple[datetime, str]]] = {}
    for message in emulator.engine.state.messages.values():
        if message.direction == "outbound":
            person = message.text.removeprefix("re: ").split("|", 1)[0]
            found.setdefault(person, []).append((message.created_at, message.text))
    return {person: sorted(sent) for person, sent in found.items()}


def reminders_sent(emulator: Emulator) -> int:
    return sum(
        1 for m in emulator.engine.state.messages.values() if m.direction == "outbound" and "|reminder" in m.text
    )


def scheduler_leaders(backends: list[BotProcess]) -> list[BotProcess]:
    """The processes that have said (in their log) that they lead the scheduler."""
    return [bot for bot in backends if LEADS in bot.log_tail(10_000)]


def tightest_window(stamps: list[datetime]) -> float:
    """The shortest time spanned by ``PAIR_LIMIT + 1`` consecutive sends (Linq refuses the last one if < window)."""
    spans = [(stamps[i + PAIR_LIMIT] - stamps[i]).total_seconds() for i in range(len(stamps) - PAIR_LIMIT)]
    return min(spans, default=float("inf"))


async def read_seen(redis_url: str, people: list[str]) -> dict[str, int]:
    store = StateRedisStore(redis_url)
    async with store:
        return {person: len(await store.person(person).get("seen", [])) for person in people}


@pytest.mark.slow
async def test_three_processes_share_pair_pacing_and_state_and_survive_a_kill(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = random.Random(66)
    # Health scoring off (people write 8 in a row and get 8 answers); pair_limit off: the test judges the windows.
    emulator = Emulator(
        webhook_attempts=40,
        webhook_backoff=0.2,
        webhook_backoff_max=2.0,
        read_delay=0,
        pair_limit=10_000,
        at_risk_after=10_000,
        critical_after=10_000,
    )
    emulator.set_faults({"seed": 66, "webhook_duplicate_rate": 0.2})
    await emulator.start("127.0.0.1")
    people = [f"+1445{n:07d}" for n in range(PEOPLE)]
    started = time.monotonic()
    backends = [BotProcess({}, free_port(), tmp_path / f"bot{n}.log", HERE / "shared_bot.py") for n in range(3)]
    try:
        async with RandomBalancer(backends, rng) as balancer:
            secret = await subscribe(emulator, balancer.url)
            env = bot_env(
                emulator,
                secret,
                LINQBOT_INBOX_URL=f"{redis_server.url}?lock_ttl=1",
                LINQBOT_STATE_URL=redis_server.url,
                SHARED_BOT_PAIR_LIMIT=str(PAIR_LIMIT),
                SHARED_BOT_PAIR_WINDOW=str(PAIR_WINDOW),
            )
            for bot in backends:
                bot.env = env
            await asyncio.gather(*(bot.start(timeout=60) for bot in backends))  # a loaded CI box imports slowly
            await poll_until(lambda: len(scheduler_leaders(backends)) == 1, 30, "a scheduler leader")
            victim = scheduler_leaders(backends)[0]

            for k in range(MESSAGES):
                if k == KILL_AFTER:
                    await poll_until(
                        lambda: reminders_sent(emulator) >= REMINDERS_BEFORE_KILL, 30, "the leader sent reminders"
                    )
                    victim.kill()  # mid-stream: it holds chats whose replies wait for their pair window
                    killed_at = datetime.now(UTC)
                for person in people:
                    await emulator.inbound(person, f"{person}|{k}")
            total = PEOPLE * MESSAGES + PEOPLE  # replies and one reminder each
            await poll_until(lambda: outbound_count(emulator) >= total, 90, "every message and reminder is sent")
            await emulator.settle()
            successors = [bot for bot in scheduler_leaders(backends) if bot is not victim]
            spread = dict(balancer.forwarded)
        wall = time.monotonic() - started
        sent = sent_by_person(emulator)
        seen = await read_seen(redis_server.url, people)
    finally:
        for bot in backends:
            bot.stop()
        await emulator.stop()

    texts = Counter(text for person_sent in sent.values() for _, text in person_sent)
    reminders = {text: stamp for person_sent in sent.values() for stamp, text in person_sent if "|reminder" in text}
    after_kill = sum(stamp > killed_at for stamp in reminders.values())
    tightest = min(tightest_window([stamp for stamp, _ in s]) for s in sent.values())
    print(
        f"\nscale-out shared: {PEOPLE * MESSAGES} messages over 3 processes {spread}, scheduler leader killed; "
        f"replies={sum(texts.values()) - len(reminders)}, reminders={len(reminders)} ({after_kill} sent by the next "
        f"leader), tightest {PAIR_LIMIT + 1} sends to one person spanned {tightest:.2f} s "
        f"(limit {PAIR_LIMIT} per {PAIR_WINDOW} s), wall={wall:.1f}s"
    )
    assert len([port for port, count in spread.items() if count > 0]) == 3, f"all three took deliveries: {spread}"
    assert set(texts.values()) == {1}, "no reply or reminder sent twice"
    assert set(reminders) == {f"{person}|reminder" for person in people}, "every scheduled reminder fired"
    assert len(successors) == 1, "one of the survivors took over the scheduler"
    assert after_kill <= PEOPLE - REMINDERS_BEFORE_KILL, "the first leader sent some reminders"
    assert after_kill > 0, "its successor sent the others"
    for person in people:
        numbered = [
            text.removeprefix(f"re: {person}|").split(" #") for _, text in sent[person] if "|reminder" not in text
        ]
        assert sorted(int(k) for k, _ in numbered) == list(range(MESSAGES)), f"every message of {person} answered"
        # A redelivery after the kill may overtake an earlier message, so the numbers follow arrival order; each
        # number once means every process read and wrote the same state.
        assert sorted(int(n) for _, n in numbered) == list(range(1, MESSAGES + 1)), f"{person}'s count is shared"
    assert seen == dict.fromkeys(people, MESSAGES), "the state holds every message once"
    assert tightest >= PAIR_WINDOW, "no pair got more than PAIR_LIMIT sends within PAIR_WINDOW, across processes"
