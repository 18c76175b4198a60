"""One process of a scaled-out bot, for the tests where the scheduler's leader dies or stalls.

``python tests/scheduler/leader_process.py REDIS_URL`` with ``LINQ_*`` set; it logs to stdout (the tests wait for
its "leads" line) and runs until killed. With ``STALL_BEFORE_SEND=n`` it stops itself (SIGSTOP) at the entry of the
n-th send from a job — a long GC pause or a laptop sleep at the worst moment, after the due jobs were claimed — and
prints "stalling before a send". `note`, `two_notes` and `react_then_note` are plain jobs both this process and the
test's bot run.
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


async def react_then_note(bot_name: str, message_id: str, to: str, text: str) -> None:
    """A plain job that reacts to a message (a Linq call that is not a send), then sends one."""
    await executing_scheduler(bot_name).bot.client.react(message_id, "love")
    await note(bot_name, to, text)


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
    if stall_at := os.environ.get("STALL_BEFORE_SEND"):
        bot.outbound_middleware.add(StallAtSend(int(stall_at)), name="stall", first=True)
    await bot.startup()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
