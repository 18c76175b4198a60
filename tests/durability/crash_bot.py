"""The bot the durability tests run as a real process: one reply per message, after a short random pause.

Settings come from the environment (``LINQ_*``, ``LINQBOT_INBOX_URL``). With ``CRASH_BOT_RUNS_KEY`` set (Redis
inbox), every handler run is counted in that Redis hash, so a test can prove each event ran exactly once. With
``CRASH_BOT_DISPATCH_LOG`` set, every dispatched event id is appended to that file instead of being handled (the
fuzz test's witness that nothing unsigned gets through).
"""

from __future__ import annotations

import asyncio
import os
import random

from linqbot import Bot, Context, Safeguards
from linqbot.dispatch.middleware import Next

bot = Bot(
    env_file=None,
    drain_timeout=float(os.environ.get("CRASH_BOT_DRAIN_TIMEOUT", "10")),
    body_limit=int(os.environ.get("CRASH_BOT_BODY_LIMIT", str(1024 * 1024))),
    plugins="-state,-scheduler,-outreach,-commands",
    # The tests' simulated people write fast and a restarted bot works its backlog off back to back: flood control
    # and the loop breaker would (rightly, for real traffic) hold such replies, so they are off here.
    safeguards=Safeguards.off()
    if os.environ.get("CRASH_BOT_SAFEGUARDS") == "off"
    else Safeguards(typing=None, flood=None, loop_breaker=None),
)
DISPATCH_LOG = os.environ.get("CRASH_BOT_DISPATCH_LOG")
PAUSE = float(os.environ.get("CRASH_BOT_PAUSE", "0.02"))
RUNS_KEY = os.environ.get("CRASH_BOT_RUNS_KEY")


if DISPATCH_LOG:

    def record_dispatch(event_id: str) -> None:
        with open(str(DISPATCH_LOG), "a") as log:
            log.write(event_id + "\n")

    @bot.outer_middleware
    async def witness(ctx: Context, call_next: Next[Context]) -> None:
        record_dispatch(ctx.event.event_id)


async def count_run(event_id: str) -> None:
    import redis.asyncio as aioredis

    url = os.environ["LINQBOT_INBOX_URL"].split("?", 1)[0]
    async with aioredis.Redis.from_url(url) as client:
        await client.hincrby(str(RUNS_KEY), event_id, 1)


@bot.on_message()
async def answer(ctx: Context) -> None:
    text = ctx.text
    if text.startswith("slow:"):
        await asyncio.sleep(float(text.split(":")[1]))
    else:
        await asyncio.sleep(random.uniform(0, PAUSE))
    if RUNS_KEY:
        await count_run(ctx.event.event_id)
    await ctx.reply(f"re: {text}")
