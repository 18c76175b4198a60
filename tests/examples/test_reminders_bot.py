"""examples/reminders_bot.py: a reminder is confirmed, stored, and sent into the chat when its time comes.

The job is made due at once with ``run_now`` (no test waits out real minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from linqbot_scheduler import scheduler_of

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"


async def test_a_reminder_is_confirmed_then_arrives_at_its_time() -> None:
    bot, _ = load_example("reminders_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        asked_at = datetime.now(UTC)
        await ana.send("Remind me in 30 minutes to call the dentist")
        assert (await ana.expect_reply()).text == "OK! I'll remind you to call the dentist in 30 minutes."

        scheduler = scheduler_of(bot)
        [job] = scheduler.jobs()
        assert job.next_run_time is not None
        assert timedelta(minutes=29) < job.next_run_time - asked_at < timedelta(minutes=31)
        await ana.expect_no_reply()  # nothing is sent before its time

        scheduler.run_now(job.id)
        assert (await scheduler.wait_for_run(job.id)).outcome == "ok"
        reminder = await ana.expect_reply()
        assert reminder.text == "⏰ Reminder: call the dentist"
        assert reminder.chat_id == ana.last_chat_id


async def test_out_of_range_and_unparsed_requests_store_nothing() -> None:
    bot, _ = load_example("reminders_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("remind me in 90 days to renew the lease")
        assert (await ana.expect_reply()).text == "I can remind you from 1 minute up to 30 days ahead."
        await ana.send("remind me later")
        assert (await ana.expect_reply()).text.startswith("Tell me what to remember")
        assert scheduler_of(bot).jobs() == []
