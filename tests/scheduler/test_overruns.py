"""What a user sees when runs come due while the previous run is still going: APScheduler's warning at every skipped
run ("maximum number of running instances reached") never shows; a recurring job that overruns gets one warning and
one run-log entry with the count, and a backlog of scheduled messages (whose lease comes round while they wait their
turn to send) is expected and says nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES  # type: ignore[import-untyped]
from apscheduler.schedulers.base import STATE_PAUSED  # type: ignore[import-untyped]
from linqbot_scheduler import BotScheduler, scheduler_of

from linqbot.emulator import Emulator, FaultConfig, FaultRule
from linqbot.testing import simulate
from tests.durability.conftest import poll_until

from .conftest import GATES, scheduler_bot
from .test_send_faults import SENDS, SendWitness, fragile_bot, outbound_texts, running, witnessed

__all__ = ["witnessed"]  # the fixture, used by name

pytestmark = pytest.mark.usefixtures("jobs_url")

APSCHEDULER_SKIP = "maximum number of running instances"


async def slow(token: str) -> None:
    """A recurring job that runs until the test lets it finish."""
    await GATES[token].hold()


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


async def test_a_recurring_job_that_overruns_gets_one_warning_with_the_count(
    caplog: pytest.LogCaptureFixture, gate: str
) -> None:
    bot = scheduler_bot()
    bot.every(minutes=5, id="slow", args=(gate,))(slow)  # type: ignore[attr-defined]
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        assert scheduler.apscheduler is not None
        skipped: list[str] = []
        scheduler.apscheduler.add_listener(lambda event: skipped.append(event.job_id), EVENT_JOB_MAX_INSTANCES)
        scheduler.run_now("slow")
        await asyncio.wait_for(GATES[gate].started.wait(), 10)
        for n in range(1, 4):  # three more run times come while the first run still goes
            scheduler.run_now("slow")
            await poll_until(lambda n=n: len(skipped) == n, 10, f"run {n + 1} is skipped")
        assert warnings(caplog, "overran") == []  # reported once the overrun is over, with its count
        outcome = scheduler.wait_for_run("slow")  # waits from here on, before the run can end
        GATES[gate].release.set()
        assert (await outcome).outcome == "ok"
        [warning] = warnings(caplog, "overran")
        assert "job slow overran its schedule: 3 run(s)" in warning
        assert warnings(caplog, APSCHEDULER_SKIP) == []
        await poll_until(lambda: len(scheduler.job_runs("slow")) == 2, 5, "the run log is written")
        ran, overran = scheduler.job_runs("slow")
        assert ran.outcome == "ok"
        assert (overran.outcome, overran.detail) == ("missed", "3 run(s) skipped: the previous run was still going")


RAN: list[str] = []


async def hold_then_note(token: str, note: str) -> None:
    """A one-off job: held open by the test the first time, then notes which arguments it ran with."""
    if not GATES[token].started.is_set():
        await GATES[token].hold()
    RAN.append(note)


@contextlib.asynccontextmanager
async def first_run_held(gate: str) -> AsyncIterator[BotScheduler]:
    """A running bot whose one-off job ``once`` has started its first run, held there until the gate opens."""
    RAN.clear()
    bot = scheduler_bot()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        await scheduler.schedule(hold_then_note, at=timedelta(0), args=(gate, "first"), id="once")
        await asyncio.wait_for(GATES[gate].started.wait(), 10)
        yield scheduler


async def claim_again(scheduler: BotScheduler, gate: str, note: str) -> None:
    """Schedule ``once`` again, due now, and wait until it is claimed (taken out of the store)."""
    await scheduler.schedule(hold_then_note, at=timedelta(0), args=(gate, note), id="once")
    await poll_until(lambda: scheduler.jobs() == [], 10, f"the {note} run is claimed")


async def test_a_one_off_job_due_again_while_its_run_goes_on_runs_after_it_not_dropped(
    caplog: pytest.LogCaptureFixture, gate: str
) -> None:
    """A one-off job claimed again while its previous run is under way here — scheduled again under its id, or handed
    back to a leader that is this same process after a stall — is its only run: APScheduler skipped it as an overrun
    and dropped it from the store; it must run once the earlier run is over, with the arguments it was given."""
    async with first_run_held(gate) as scheduler:
        await claim_again(scheduler, gate, "second")
        GATES[gate].release.set()
        await poll_until(lambda: RAN == ["first", "second"], 10, "both runs ran, in order")
        assert warnings(caplog, "overran") == []
        assert scheduler.jobs() == []


async def test_a_newer_claim_replaces_a_waiting_one_and_the_scheduler_still_stops_at_once(
    caplog: pytest.LogCaptureFixture, gate: str
) -> None:
    async with first_run_held(gate) as scheduler:
        await claim_again(scheduler, gate, "second")
        await claim_again(scheduler, gate, "third")
        GATES[gate].release.set()
        await poll_until(lambda: RAN == ["first", "third"], 10, "the first run, then the newest claim")
        await asyncio.wait_for(scheduler.stop(timeout=5), 10)  # every counted run settled: stops without the timeout
    assert warnings(caplog, "still running") == []


async def test_a_run_that_waited_while_the_scheduler_stops_is_put_back_once_the_earlier_run_ends(gate: str) -> None:
    async with first_run_held(gate) as scheduler:
        await claim_again(scheduler, gate, "second")
        stopping = asyncio.create_task(scheduler.stop(timeout=10))  # paused: nothing new starts
        await poll_until(lambda: scheduler.apscheduler.state == STATE_PAUSED, 5, "the scheduler is paused")
        GATES[gate].release.set()
        await asyncio.wait_for(stopping, 10)
    assert RAN == ["first"]
    assert [job.id for job in scheduler.jobs()] == ["once"], "the waiting run is stored for the next start"


async def test_a_run_still_waiting_when_the_scheduler_stops_is_kept_in_the_store(gate: str) -> None:
    async with first_run_held(gate) as scheduler:
        await claim_again(scheduler, gate, "second")
        await scheduler.stop(timeout=0.2)  # the first run is cancelled; the second never started
    assert [job.id for job in scheduler.jobs()] == ["once"], "the waiting run is stored for the next start"
    assert RAN == []


async def test_a_backlog_of_scheduled_messages_past_their_lease_is_quiet_and_each_is_sent_once(
    witnessed: tuple[Emulator, SendWitness], caplog: pytest.LogCaptureFixture
) -> None:
    emu, witness = witnessed
    emu.set_faults(FaultConfig(rules=[FaultRule(method="POST", path=SENDS, latency_ms=300)]))
    bot = fragile_bot()
    scheduler_of(bot).configure(max_concurrent_sends=1, send_lease=0.5)  # six sends in a row outlast the lease
    async with running(bot, emu) as scheduler:
        skipped: list[str] = []
        for n in range(6):
            await scheduler.schedule_message(to=f"+1555042{n:04d}", text=f"backlog {n}", at=timedelta(0))
            if n == 0:  # the store opens with the first job; a lease comes round only 0.5 s later
                assert scheduler.apscheduler is not None
                scheduler.apscheduler.add_listener(lambda e: skipped.append(e.job_id), EVENT_JOB_MAX_INSTANCES)
        await poll_until(lambda: scheduler.jobs() == [], 30, "every message is sent")
        assert skipped  # leases came round while messages waited their turn (the situation under test)
        assert Counter(run.outcome for run in scheduler.job_runs()) == Counter({"ok": 6})
    assert outbound_texts(emu) == Counter(f"backlog {n}" for n in range(6))
    assert len(witness.keys) == 6  # each sent once, none started twice
    assert warnings(caplog, APSCHEDULER_SKIP) == []
    assert warnings(caplog, "overran") == []
