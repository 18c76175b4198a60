"""Appointment reminders with the scheduler plugin: "remind me in 30 minutes to call the dentist".

`bot.schedule_message` stores the reminder in a database (it survives restarts) and sends it at its time through
every outbound gate — someone who texts STOP in between is not messaged.

Try it:  linqbot dev examples/reminders_bot.py --say "remind me in 1 minute to stretch"
List the stored jobs with:  linqbot jobs list
"""

import re
from datetime import timedelta

from linqbot_scheduler import scheduler_of

from linqbot import Bot, Context

bot = Bot()

UNITS = {"minute": 60, "hour": 3600, "day": 86400}
REMINDER = re.compile(r"^remind me in (\d+) (minute|hour|day)s? (?:to )?(.+)$", re.IGNORECASE)
LONGEST = timedelta(days=30)


@bot.on_message(regex=REMINDER)
async def remind(ctx: Context) -> None:
    assert ctx.match is not None and ctx.chat_id is not None
    count, unit, what = int(ctx.match[1]), ctx.match[2].lower(), ctx.match[3].strip()
    delay = timedelta(seconds=count * UNITS[unit])
    if not timedelta(0) < delay <= LONGEST:
        await ctx.reply("I can remind you from 1 minute up to 30 days ahead.")
        return
    # bot.schedule_message(...) is the same call; scheduler_of(bot) is its typed spelling.
    await scheduler_of(bot).schedule_message(chat_id=ctx.chat_id, text=f"⏰ Reminder: {what}", at=delay)
    plural = "" if count == 1 else "s"
    await ctx.reply(f"OK! I'll remind you to {what} in {count} {unit}{plural}.")


@bot.on_message()
async def usage(ctx: Context) -> None:
    await ctx.reply("Tell me what to remember, like: remind me in 30 minutes to call the dentist")
