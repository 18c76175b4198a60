"""One process of a scaled-out bot, for the test that kills the scheduler's leader mid-send.

``python tests/scheduler/leader_process.py REDIS_URL`` with ``LINQ_*`` set; it logs to stdout (the test waits for
its "leads" and "Running job" lines) and runs until killed.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from linqbot import Bot
from linqbot.inbox.redis_store import RedisStore


async def main(redis_url: str) -> None:
    bot = Bot(env_file=None, plugins=["scheduler"], inbox=RedisStore(redis_url, lock_ttl=1.0))
    await bot.startup()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
