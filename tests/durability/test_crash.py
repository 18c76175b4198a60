"""Kill -9 the bot at random moments while thousands of signed webhooks stream in: nothing is lost, nothing doubles.

The bot is a real process (``linqbot run``) with the SQLite inbox; the emulator signs, delivers and retries the
webhooks like Linq. A kill loses whatever the process had in memory, so everything that survives does so through
the inbox file (events accepted but unfinished resume on restart) and through idempotency keys (a re-run send is
answered with the original message instead of a second one).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from linqbot.emulator import Emulator
from tests.durability.conftest import BotProcess, bot_env, free_port, outbound_count, poll_until, subscribe

PEOPLE = 200
MESSAGES_EACH = 10
TOTAL = PEOPLE * MESSAGES_EACH
MAX_KILLS = 8


async def emulator_messages(emu: Emulator, direction: str) -> list[dict[str, Any]]:
    """What the emulator recorded, read over its admin HTTP API."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emu.url}/_emulator/messages", params={"direction": direction}) as response:
            body: dict[str, Any] = await response.json()
    return list(body["messages"])


@pytest.mark.slow
async def test_random_sigkills_lose_nothing_and_duplicate_nothing(emulator: Emulator, tmp_path: Path) -> None:
    rng = random.Random(6)
    port = free_port()
    secret = await subscribe(emulator, f"http://127.0.0.1:{port}/webhook")
    bot = BotProcess(
        bot_env(emulator, secret, LINQBOT_INBOX_URL=f"sqlite:///{tmp_path / 'inbox.db'}"), port, tmp_path / "bot.log"
    )
    people = [f"+1444{n:07d}" for n in range(PEOPLE)]
    started = time.monotonic()
    await bot.start()
    try:

        async def stream() -> None:
            for k in range(MESSAGES_EACH):
                for person in people:
                    await emulator.inbound(person, f"m{person}-{k}")
                await asyncio.sleep(0.3)

        producer = asyncio.get_running_loop().create_task(stream())
        kills = 0

        def replied() -> int:
            return outbound_count(emulator)

        def reached(count: int) -> bool:
            return replied() >= count

        # Kill at random points of progress, not of time: a faster bot must not finish before the kills happen.
        for progress in sorted(rng.sample(range(TOTAL // 20, TOTAL * 19 // 20), MAX_KILLS)):
            await poll_until(partial(reached, progress), 120, f"{progress} replies before kill {kills + 1}")
            bot.kill()
            kills += 1
            await bot.start()
        await producer
        await poll_until(lambda: replied() >= TOTAL, 60, f"every message has its reply ({kills} kills so far)")
        await emulator.settle()
        wall = time.monotonic() - started
    finally:
        bot.stop()

    inbound = await emulator_messages(emulator, "inbound")
    outbound = await emulator_messages(emulator, "outbound")
    expected = Counter(f"re: {m['text']}" for m in inbound)
    got = Counter(m["text"] for m in outbound)
    duplicates = sum(count - 1 for count in got.values() if count > 1)
    lost = sum(1 for text in expected if got[text] == 0)
    failed_for_good = [d for d in emulator.webhook_log() if not d["will_retry"] and d["status"] != 200]
    print(
        f"\ncrash test: {len(inbound)} events, {kills} SIGKILLs, {len(outbound)} replies, "
        f"duplicates={duplicates}, lost={lost}, deliveries={len(emulator.webhook_log())}, wall={wall:.1f}s"
    )
    for message in outbound:
        assert message["to"] == [message["text"][5:].split("-")[0]], "each reply goes to its sender"
    assert len(inbound) == TOTAL
    assert kills == MAX_KILLS, "the bot was killed mid-stream every time"
    assert failed_for_good == [], "Linq gave up on a delivery"
    assert duplicates == 0
    assert lost == 0
    assert len(outbound) == TOTAL
