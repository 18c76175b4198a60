"""The bot the durability tests run as a real process: one reply per message, after a short random pause.

Settings come from the environment (``LINQ_*``, ``LINQBOT_INBOX_URL``). With ``CRASH_BOT_RUNS_KEY`` set (Redis
inbox), every handler run is counted in that Redis hash, so a test can prove each event ran exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random

from linqbot import Bot, Context, Safeguards

bot = Bot(
    env_file=None,
    drain_timeout=float(os.environ.get("CRASH_BOT_DRAIN_TIMEOUT", "10")),
    plugins="-state,-scheduler,-outreach,-commands",
    safeguards=Safeguards.off() if os.environ.get("CRASH_BOT_SAFEGUARDS") == "off" else Safeguards(typing=None),
)
PAUSE = float(os.environ.get("CRASH_BOT_PAUSE", "0.02"))
RUNS_KEY = os.environ.get("CRASH_BOT_RUNS_KEY")


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
