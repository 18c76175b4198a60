"""Scheduled messages against the emulator: sent at their time through every gate, kept across restarts,
skipped when late beyond the grace time, and recorded when Linq refuses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from linqbot_scheduler import scheduler_of
from linqbot_scheduler.store import JobNotFound

from linqbot import Bot
from linqbot.testing import simulate

from .conftest import scheduler_bot

pytestmark = pytest.mark.usefixtures("jobs_url")

ANA = "+15550100002"
BEN = "+15550100003"


async def tick() -> None:
    """A recurring job the bot registers on every start."""


def bot_with_tick() -> Bot:
    bot = scheduler_bot()
    bot.every(minutes=10, id="tick")(tick)  # type: ignore[attr-defined]
    return bot


async def test_a_scheduled_message_arrives_at_its_time() -> None:
    bot = scheduler_bot()
    async with simulate(bot) as sim:
        info = await bot.schedule_message(to=ANA, text="Your table is ready", at=timedelta(milliseconds=100))  # type: ignore[attr-defined]
        assert info.name == "message to +1***02"  # the job name (and so APScheduler's log lines) masks the number
        run = await scheduler_of(bot).wait_for_run(info.id)
        assert run.outcome == "ok"
        [message] = sim.sent(to=ANA)
        assert message.text == "Your table is ready"
        assert run.detail == message.id
        assert message.raw["idempotency_key"] == f"scheduled:{info.id}"


async def test_a_sent_message_is_gone_at_once_and_cannot_be_run_or_cancelled_again() -> None:
    bot = scheduler_bot()
    async with simulate(bot) as sim:
        scheduler = scheduler_of(bot)
        info = await scheduler.schedule_message(to=ANA, text="Your order shipped", at=timedelta(0))
        assert (await scheduler.wait_for_run(info.id)).outcome == "ok"
        with pytest.raises(JobNotFound):
            scheduler.run_now(info.id)
        with pytest.raises(JobNotFound):
            scheduler.cancel_job(info.id)
        assert scheduler.jobs() == []
        await sim.advance(120)  # past the send's lease: a job still stored would fire again
        assert [m.text for m in sim.sent(to=ANA)] == ["Your order shipped"]


async def test_a_scheduled_message_into_a_chat_by_id() -> None:
    bot = scheduler_bot()
    async with simulate(bot) as sim:
        sent = await sim.user(ANA).send("remind me in a bit")
        info = await bot.schedule_message(chat_id=sent["chat_id"], text="Here's your reminder", at=timedelta(0))  # type: ignore[attr-defined]
        assert (await scheduler_of(bot).wait_for_run(info.id)).outcome == "ok"
        reply = await sim.user(ANA).expect_reply()
        assert (reply.text, reply.chat_id) == ("Here's your reminder", sent["chat_id"])
        with pytest.raises(ValueError, match="exactly one of to= or chat_id="):
            await bot.schedule_message(to=ANA, chat_id=sent["chat_id"], text="x", at=timedelta(0))  # type: ignore[attr-defined]


async def test_opt_out_after_scheduling_stops_the_message_and_the_scheduler_carries_on() -> None:
    bot = scheduler_bot()
    async with simulate(bot) as sim:
        scheduler = scheduler_of(bot)
        info = await scheduler.schedule_message(to=ANA, text="Still interested?", at=timedelta(hours=1))
        await sim.user(ANA).send("STOP")
        await sim.idle()

        scheduler.run_now(info.id)
        run = await scheduler.wait_for_run(info.id)
        assert run.outcome == "error"
        assert "OptedOut (status 403, code 2024" in run.detail
        assert ANA not in run.detail  # the run log names the refusal, not the person
        assert sim.sent(to=ANA) == []
        assert scheduler.job_runs(info.id) == [run]

        other = await scheduler.schedule_message(to=BEN, text="Hello Ben", at=timedelta(0))
        assert (await scheduler.wait_for_run(other.id)).outcome == "ok"
        assert [m.text for m in sim.sent(to=BEN)] == ["Hello Ben"]


async def test_jobs_survive_a_restart_once_each_and_fire_once() -> None:
    first = bot_with_tick()
    async with simulate(first) as sim:
        message = await scheduler_of(first).schedule_message(
            to=ANA, text="See you tomorrow", at=timedelta(hours=1), id="see-you"
        )
        assert {j.id for j in scheduler_of(first).jobs()} == {"tick", "see-you"}

        second = bot_with_tick()  # a new process: same store, the decorated job registered again
        async with simulate(second, emulator=sim.emulator):
            scheduler = scheduler_of(second)
            jobs = {j.id: j for j in scheduler.jobs()}
            assert sorted(jobs) == ["see-you", "tick"]  # replaced, not duplicated
            assert jobs["see-you"].next_run_time == message.next_run_time
            scheduler.run_now("see-you")
            assert (await scheduler.wait_for_run("see-you")).outcome == "ok"

        third = bot_with_tick()
        async with simulate(third, emulator=sim.emulator):
            assert [j.id for j in scheduler_of(third).jobs()] == ["tick"]
            assert [r.outcome for r in scheduler_of(third).job_runs("see-you")] == ["ok"]
        assert [m.text for m in sim.sent(to=ANA)] == ["See you tomorrow"]


async def test_a_run_later_than_the_grace_time_is_missed_not_sent() -> None:
    bot = scheduler_bot()
    async with simulate(bot) as sim:
        scheduler = scheduler_of(bot)
        # As if the bot had been down: the message was due 10 minutes ago, beyond the 5-minute grace time.
        info = await scheduler.schedule_message(to=ANA, text="Happy hour starts now", at=timedelta(minutes=-10))
        run = await scheduler.wait_for_run(info.id)
        assert run.outcome == "missed"
        assert sim.sent(to=ANA) == []
        assert scheduler.jobs() == []

        late = await scheduler.schedule_message(to=ANA, text="Doors open", at=timedelta(minutes=-2))
        assert (await scheduler.wait_for_run(late.id)).outcome == "ok"  # late, but within the grace time
        assert [m.text for m in sim.sent(to=ANA)] == ["Doors open"]


async def test_missed_recurring_runs_coalesce_into_one() -> None:
    bot = bot_with_tick()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        assert scheduler.apscheduler is not None
        # Over three intervals overdue, the last one within the grace time: one run, not four.
        scheduler.apscheduler.modify_job("tick", next_run_time=datetime.now(UTC) - timedelta(minutes=32))
        assert (await scheduler.wait_for_run("tick")).outcome == "ok"
        assert [r.outcome for r in scheduler.job_runs("tick")] == ["ok"]
        [job] = scheduler.jobs()
        assert job.next_run_time is not None and job.next_run_time > datetime.now(UTC)
