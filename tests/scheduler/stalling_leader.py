"""A scheduler leader that stops itself (SIGSTOP) at the entry of the first send from a job: a long GC pause or a
laptop sleep at the worst moment, after the due jobs were claimed and before any of them reached Linq.

``python tests/scheduler/stalling_leader.py REDIS_URL`` with ``LINQ_*`` set; it logs to stdout ("stalling" when it
stops itself) and runs until killed. `note` is a plain job both this process and the test's bot can run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from linqbot_scheduler.jobs import executing_scheduler

from linqbot import Bot
from linqbot.inbox.redis_store import RedisStore
from linqbot.outbound import OutboundCall
from linqbot.outbound.pipeline import Next


async def note(bot_name: str, to: str, text: str) -> None:
    """A plain job sending one message, signed with the id of the process that sends it."""
    await executing_scheduler(bot_name).bot.send(to, f"{text} from {os.getpid()}")


class StallAtFirstSend:
    """Outermost outbound middleware: the first send stops the whole process where it stands."""

    def __init__(self) -> None:
        self.stalled = False

    async def __call__(self, call: OutboundCall, call_next: Next) -> Any:
        if call.is_send and not self.stalled:
            self.stalled = True
            print("stalling before a send", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
        return await call_next(call)


async def main(redis_url: str) -> None:
    bot = Bot(env_file=None, plugins=["scheduler"], inbox=RedisStore(redis_url, lock_ttl=1.0))
    bot.outbound_middleware.add(StallAtFirstSend(), name="stall", first=True)
    await bot.startup()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
