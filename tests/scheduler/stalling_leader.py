"""A scheduler leader that stops itself (SIGSTOP) at the entry of a send from a job (the first, or the
``STALL_BEFORE_SEND``-th): a long GC pause or a laptop sleep at the worst moment, after the due jobs were claimed.

``python tests/scheduler/stalling_leader.py REDIS_URL`` with ``LINQ_*`` set; it logs to stdout ("stalling" when it
stops itself) and runs until killed. `note` and `two_notes` are plain jobs both this process and the test's bot run.
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


async def two_notes(bot_name: str, first: str, second: str, text: str) -> None:
    """A plain job sending two messages, one after the other."""
    await note(bot_name, first, text)
    await note(bot_name, second, text)


class StallAtSend:
    """Outermost outbound middleware: the ``nth`` send stops the whole process where it stands."""

    def __init__(self, nth: int) -> None:
        self.countdown = nth

    async def __call__(self, call: OutboundCall, call_next: Next) -> Any:
        if call.is_send:
            self.countdown -= 1
            if self.countdown == 0:
                print("stalling before a send", flush=True)
                os.kill(os.getpid(), signal.SIGSTOP)
        return await call_next(call)


async def main(redis_url: str) -> None:
    bot = Bot(env_file=None, plugins=["scheduler"], inbox=RedisStore(redis_url, lock_ttl=1.0))
    nth = int(os.environ.get("STALL_BEFORE_SEND", "1"))
    bot.outbound_middleware.add(StallAtSend(nth), name="stall", first=True)
    await bot.startup()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
