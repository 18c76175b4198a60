"""Decorated, one-off and plugin jobs run on APScheduler for real; time is controlled by making jobs due now."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from linqbot_scheduler import JobNotFound, JobNotPersistable, JobSpec, SchedulerNotRunning, scheduler_of

from linqbot import Bot
from linqbot.plugins import hookimpl
from linqbot.testing import simulate

from .conftest import scheduler_bot

pytestmark = pytest.mark.usefixtures("jobs_url")

CALLS: list[tuple[str, tuple[Any, ...]]] = []
FIRED: asyncio.Event | None = None


def _fired() -> asyncio.Event:
    global FIRED
    FIRED = asyncio.Event()
    CALLS.clear()
    return FIRED


async def tick() -> None:
    CALLS.append(("tick", ()))
    assert FIRED is not None
    FIRED.set()


async def remind(who: str, times: int) -> str:
    CALLS.append(("remind", (who, times)))
    assert FIRED is not None
    FIRED.set()
    return f"reminded {who}"


async def morning() -> None:
    CALLS.append(("morning", ()))


async def test_every_job_runs_when_due_and_keeps_its_interval() -> None:
    fired = _fired()
    bot = scheduler_bot()
    bot.every(minutes=5, id="tick")(tick)  # type: ignore[attr-defined]
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        scheduler.run_now("tick")
        run = await scheduler.wait_for_run("tick")
        assert run.outcome == "ok" and fired.is_set()
        assert CALLS == [("tick", ())]
        [job] = bot.jobs()  # type: ignore[attr-defined]
        assert job.id == "tick" and job.func.endswith(":tick")
        assert job.next_run_time is not None
        assert timedelta(minutes=4) < job.next_run_time - datetime.now(UTC) <= timedelta(minutes=5)


async def test_one_off_job_runs_at_its_time_with_its_arguments() -> None:
    fired = _fired()
    bot = scheduler_bot()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        info = await scheduler.schedule(remind, at=timedelta(milliseconds=50), args=("ana", 2), id="remind-ana")
        assert info.id == "remind-ana" and info.next_run_time is not None
        run = await scheduler.wait_for_run("remind-ana")
        await fired.wait()
        assert CALLS == [("remind", ("ana", 2))]
        assert (run.outcome, run.detail) == ("ok", "reminded ana")
        assert scheduler.jobs() == []  # a one-off job leaves the store once it ran


async def test_a_run_can_be_waited_for_in_a_task_and_an_unawaited_wait_is_forgotten() -> None:
    """``wait_for_run`` returns a coroutine (``create_task`` takes it), waiting from the call on; a wait whose result
    nobody awaits is dropped after its timeout instead of being kept for the life of the bot."""
    _fired()
    bot = scheduler_bot()
    bot.every(minutes=5, id="tick")(tick)  # type: ignore[attr-defined]
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        waiting = asyncio.create_task(scheduler.wait_for_run("tick"))
        scheduler.run_now("tick")
        assert (await waiting).outcome == "ok"

        never_awaited = scheduler.wait_for_run("tick", timeout=0.05)
        with pytest.raises(TimeoutError):
            await scheduler.wait_for_run("tick", timeout=0.1)
        assert scheduler._waiters == []  # the unawaited one too
        never_awaited.close()


async def test_cron_jobs_from_expression_or_fields_in_their_timezone() -> None:
    bot = scheduler_bot()
    bot.cron("0 9 * * mon-fri", timezone="Asia/Tokyo", id="morning")(morning)  # type: ignore[attr-defined]
    async with simulate(bot):
        [job] = scheduler_of(bot).jobs()
        assert job.next_run_time is not None
        local = job.next_run_time.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
        assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5
        with pytest.raises(ValueError, match="invalid cron schedule"):
            scheduler_of(bot).cron("61 25 * * *")
        with pytest.raises(ValueError, match="either an expression or keyword fields"):
            scheduler_of(bot).cron("0 9 * * *", hour=9)
        with pytest.raises(ValueError, match="positive interval"):
            scheduler_of(bot).every()


async def test_jobs_that_cannot_survive_a_restart_are_refused_clearly() -> None:
    bot = scheduler_bot()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        with pytest.raises(JobNotPersistable, match=r"lambda.*module-level function"):
            await scheduler.schedule(lambda: None, at=timedelta(hours=1))

        async def closure() -> None:
            pass

        with pytest.raises(JobNotPersistable, match="nested function"):
            await scheduler.schedule(closure, at=timedelta(hours=1))
        with pytest.raises(JobNotPersistable, match=r"arguments of job .* cannot be stored"):
            await scheduler.schedule(remind, at=timedelta(hours=1), args=(threading.Lock(), 1))
        with pytest.raises(ValueError, match="timezone-aware"):
            await scheduler.schedule(remind, at=datetime.now() + timedelta(hours=1), args=("a", 1))
        assert scheduler.jobs() == []


async def test_a_decorated_closure_fails_start_up_by_name() -> None:
    bot = scheduler_bot()

    @scheduler_of(bot).every(minutes=1)
    async def inner() -> None:
        pass

    with pytest.raises(JobNotPersistable, match="inner"):
        async with simulate(bot):
            pass
    assert not scheduler_of(bot).running


def _exists(url: str) -> bool:
    return Path(url.removeprefix("sqlite:///")).exists()


async def test_a_bot_that_never_schedules_leaves_no_job_database(jobs_url: str) -> None:
    bot = scheduler_bot()
    async with simulate(bot):
        assert bot.jobs() == [] and not _exists(jobs_url)  # type: ignore[attr-defined]
        await scheduler_of(bot).schedule(remind, at=timedelta(hours=1), args=("a", 1), id="first")
        assert _exists(jobs_url)
    assert [j.id for j in scheduler_of(bot).jobs()] == ["first"]


async def test_one_off_scheduling_needs_the_running_bot() -> None:
    bot = scheduler_bot()
    with pytest.raises(SchedulerNotRunning, match="runs with the bot"):
        await scheduler_of(bot).schedule(remind, at=timedelta(hours=1), args=("a", 1))


async def test_cancel_removes_a_job_and_unknown_ids_say_so() -> None:
    bot = scheduler_bot()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        await scheduler.schedule(remind, at=timedelta(hours=1), args=("a", 1), id="later")
        assert [j.id for j in scheduler.jobs()] == ["later"]
        bot.cancel_job("later")  # type: ignore[attr-defined]
        assert scheduler.jobs() == []
        with pytest.raises(JobNotFound):
            scheduler.cancel_job("later")


class ReportsPlugin:
    """Another plugin contributing jobs through ``linqbot_scheduled_jobs``."""

    @hookimpl
    def linqbot_scheduled_jobs(self, bot: Bot) -> list[Any]:
        return [
            JobSpec(func=morning, trigger="cron", trigger_args={"hour": 7}, id="reports-daily"),
            {"func": "tests.scheduler.test_scheduling:tick", "trigger": "interval", "hours": 1, "id": "reports-sync"},
        ]


async def test_other_plugins_contribute_jobs_by_hook() -> None:
    bot = Bot(env_file=None, plugins=["scheduler", ReportsPlugin()])
    async with simulate(bot):
        jobs = {j.id: j for j in scheduler_of(bot).jobs()}
        assert set(jobs) == {"reports-daily", "reports-sync"}
        assert "cron[hour='7'" in jobs["reports-daily"].trigger
        assert jobs["reports-sync"].trigger.startswith("interval[1:00:00]")
