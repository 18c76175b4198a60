"""The bot tests/durability/test_scale_out.py runs as three processes on one Redis.

Everything shared lives in that Redis (``LINQBOT_INBOX_URL``): the inbox, the safeguards' pair windows (the default
store of a bot whose inbox is on Redis), scheduled jobs (the scheduler's default store then; only the leading
process runs them) and conversation state (``LINQBOT_STATE_URL``). Pacing is the only safeguard on, with a small
pair limit (``SHARED_BOT_PAIR_LIMIT`` per ``SHARED_BOT_PAIR_WINDOW`` seconds) so that the test sees it bite.

A person's first message also schedules a reminder to them through ``bot.schedule_message``, due 1 s plus 0.4 s per
unit of the last two digits of their number, so reminders come due before and after the test kills the leader.

The handler counts its runs per event id in the sender's conversation state, and each reply carries how many of the
sender's messages have run so far. An event whose process was killed after the state write runs again elsewhere
(at-least-once): its count says so, and it does not number a message twice.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from typing import Any

from apscheduler.jobstores.base import ConflictingIdError  # type: ignore[import-untyped]
from linqbot_scheduler import scheduler_of
from linqbot_state import StateContext

from linqbot import Bot
from linqbot.middleware import Pacing, Safeguards

bot = Bot(
    env_file=None,
    plugins="-outreach,-commands",
    safeguards=Safeguards(
        pacing=Pacing(
            per_pair=int(os.environ["SHARED_BOT_PAIR_LIMIT"]),
            pair_window=float(os.environ["SHARED_BOT_PAIR_WINDOW"]),
        ),
        typing=None,
        health=None,
        non_responders=None,
        flood=None,
        loop_breaker=None,
    ),
)
# A send held for its pair's window outlasts this; an attempt started meanwhile reuses the idempotency key.
scheduler_of(bot).configure(send_lease=8)


@bot.on_message()
async def count_and_answer(ctx: StateContext) -> None:
    message_id = ctx.event.event_id

    def record_run(state: dict[str, Any]) -> None:
        runs = state.setdefault("runs", {})
        runs[message_id] = runs.get(message_id, 0) + 1

    runs = (await ctx.person_state.update(record_run))["runs"]
    if len(runs) == 1 and ctx.sender is not None:
        with contextlib.suppress(ConflictingIdError):  # this event ran before, in a process that was killed
            await scheduler_of(bot).schedule_message(
                to=ctx.sender,
                text=f"{ctx.sender}|reminder",
                at=timedelta(seconds=1 + 0.4 * int(ctx.sender[-2:])),
                id=f"reminder-{ctx.sender}",
            )
    await ctx.reply(f"re: {ctx.text} #{len(runs)}")
