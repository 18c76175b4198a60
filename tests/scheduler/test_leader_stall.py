"""A scheduler leader that stalls past its lease (SIGSTOP: a long GC pause, a laptop sleep) after claiming due jobs
and before sending them: another process takes over, and when the stalled one resumes it sends nothing — its runs
are handed back to the leader — so every due job reaches its person exactly once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from aiohttp import web
from apscheduler.events import EVENT_JOB_MAX_INSTANCES  # type: ignore[import-untyped]
from linqbot_outreach import Campaign, CampaignStatus
from linqbot_scheduler import scheduler_of
from linqbot_scheduler.jobs import executing_scheduler

from linqbot import Bot
from linqbot.emulator import Emulator
from linqbot.middleware.tracking import DAY, budget_key
from tests.durability.conftest import RedisServer, poll_until
from tests.outreach.conftest import FastClock, people

from .conftest import GATES, LEASE, leader_process, scaled_out_bot, start_leading
from .leader_process import note, react_then_note, two_notes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def test_a_leader_stalled_past_its_lease_sends_nothing_and_every_due_job_arrives_once(
    redis_server: RedisServer, linq_env: None
) -> None:
    keys: list[str] = []

    @web.middleware
    async def witness(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/api/partner/v3/chats":
            keys.append(json.loads(await request.read())["message"]["idempotency_key"])
        return await handler(request)

    emu = Emulator(read_delay=0)
    emu.app.middlewares.insert(0, witness)
    await emu.start("127.0.0.1")
    follower = scaled_out_bot(redis_server.url, emu)
    scheduler = scheduler_of(follower)
    scheduler.configure(send_lease=2.0)  # a claimed message comes due again for a new leader 2 s after its time
    try:
        async with leader_process(redis_server.url, emu, stall_before_send=1) as leader:
            await follower.startup()
            assert not scheduler.leading
            due = datetime.now(UTC) + timedelta(seconds=1)  # all stored before the leader claims them at once
            messages = [
                await scheduler.schedule_message(to=f"+1555060000{k}", text=f"message {k}", at=due) for k in range(3)
            ]
            for k in range(3):
                await scheduler.schedule(note, at=due, args=(follower.name, f"+1555061000{k}", f"note {k}"))

            # The leader claimed every due job, then stopped at its first send; a note leaves the store when
            # claimed, a message stays (due again after its lease).
            await poll_until(lambda: leader.printed("stalling before a send"), 20, "the leader stalls")
            await poll_until(leader.stopped, 5, "the leader is stopped")
            await poll_until(lambda: scheduler.leading, 5 * LEASE, "the follower takes over")
            await emu.wait_for(lambda: len(keys) >= 3, timeout=15)  # the messages, sent by the new leader
            assert sorted(keys) == sorted(f"scheduled:{m.id}" for m in messages)

            leader.process.send_signal(signal.SIGCONT)  # it resumes at its send, with a lease long gone
            await emu.wait_for(lambda: len(keys) >= 6, timeout=15)  # the notes, handed back to the new leader
            await poll_until(lambda: scheduler.jobs() == [], 10, "every job settled")
            await emu.settle()

            texts = Counter(str(m["parts"][0]["value"]) for m in emu.messages(direction="outbound"))
            expected = [f"message {k}" for k in range(3)] + [f"note {k} from {os.getpid()}" for k in range(3)]
            assert texts == Counter(expected)  # each once, the notes too from this process: the new leader
            assert len(keys) == 6  # the resumed process sent nothing: no second request, not even a deduplicated one
            assert leader.printed("leadership lost")
            assert scheduler.leading  # the resumed process did not take the lead back
            runs = Counter(run.outcome for run in scheduler.job_runs(limit=100))
            assert runs == Counter({"ok": 6})  # handed-back runs are not recorded; the leader's runs are
    finally:
        await follower.shutdown()
        await emu.stop()


async def test_a_leader_whose_lease_went_to_another_process_behind_its_back_hands_its_due_runs_to_the_leader(
    redis_server: RedisServer, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """After a laptop sleep the monotonic clock has not moved, yet Redis let the lease lapse and another process took
    it: the fence asks Redis, so the due jobs are not run here but stay due for whoever leads — one warning for all
    of them, and a `wait_for_run` here ends at once (``handed_back``). The lease is long, so its renewal cannot find
    the theft out first: only the fence stops these runs."""
    caplog.set_level(logging.WARNING, "linqbot.scheduler")
    bot = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    successor = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    client = redis.Redis.from_url(redis_server.url)
    ids = [f"due-note-{k}" for k in range(3)]
    try:
        await bot.startup()
        scheduler = scheduler_of(bot)
        for k, job_id in enumerate(ids):
            await scheduler.schedule(
                note, at=timedelta(hours=1), args=(bot.name, f"+155506200{k:02d}", f"due {k}"), id=job_id
            )
        await poll_until(lambda: scheduler.leading, 10, "the bot leads")

        lease = bot.leadership("scheduler").key
        client.set(lease, "another-process", px=60_000)
        outcome = scheduler.wait_for_run(ids[0])
        for job_id in ids:
            scheduler.run_now(job_id)  # due at once; this process's next lease renewal is 20 s away
        assert (await outcome).outcome == "handed_back"
        assert not scheduler.leading
        await poll_until(lambda: hand_back_warnings(caplog) != [], 5, "the hand-backs are reported")
        [warning] = hand_back_warnings(caplog)
        assert warning.startswith("scheduler: 3 job run(s) not run here (no longer the leader), handed to the leader")
        assert all(job_id in warning for job_id in ids)
        now = datetime.now(UTC)
        assert [(j.id, j.next_run_time is not None and j.next_run_time <= now) for j in scheduler.jobs()] == [
            (job_id, True) for job_id in ids
        ]
        assert emulator.messages(direction="outbound") == []
        assert scheduler.job_runs() == []  # the leader's runs are the ones recorded

        client.delete(lease)  # the other process is gone; a new one leads and runs what was handed back
        runs = [scheduler_of(successor).wait_for_run(job_id, timeout=15) for job_id in ids]
        await successor.startup()
        assert [(await run).outcome for run in runs] == ["ok"] * 3  # run on the successor's process, once each
        await poll_until(lambda: scheduler.jobs() == [], 5, "every job ran")
        await emulator.settle()
        texts = sorted(m["parts"][0]["value"] for m in emulator.messages(direction="outbound"))
        assert texts == [f"due {k} from {os.getpid()}" for k in range(3)]
        assert not scheduler.leading
    finally:
        client.close()
        await successor.shutdown()
        await bot.shutdown()


def hand_back_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "not run here" in r.getMessage()]


async def test_a_run_fenced_after_it_sent_is_not_run_again(redis_server: RedisServer, emulator: Emulator) -> None:
    """A job that stalls between its two sends: the first went out, so running it again would repeat it; the second
    is refused, the run ends as an error and nobody sends the rest (at most once, as after a crash)."""
    follower = scaled_out_bot(redis_server.url, emulator)
    try:
        async with leader_process(redis_server.url, emulator, stall_before_send=2) as leader:
            await follower.startup()
            scheduler = scheduler_of(follower)
            job = await scheduler.schedule(
                two_notes, at=timedelta(0), args=(follower.name, "+15550630001", "+15550630002", "pair")
            )
            await poll_until(lambda: leader.printed("stalling before a send"), 20, "the leader stalls")
            await poll_until(leader.stopped, 5, "the leader is stopped")
            await poll_until(lambda: scheduler.leading, 5 * LEASE, "the follower takes over")
            leader.process.send_signal(signal.SIGCONT)
            await poll_until(
                lambda: leader.printed(f"job {job.id} stopped after 1 Linq call(s)"), 10, "the leader says so"
            )
            await poll_until(lambda: scheduler.job_runs(job.id) != [], 5, "the run is in the shared run log")
            [run] = scheduler.job_runs(job.id)
            assert run.outcome == "error" and run.detail.startswith("LeadershipLost")
            await emulator.settle()
            texts = [m["parts"][0]["value"] for m in emulator.messages(direction="outbound")]
            assert texts == [f"pair from {leader.process.pid}"]  # the first send only, made before the stall
            assert scheduler.jobs() == []
    finally:
        await follower.shutdown()


async def test_a_run_that_reacted_before_it_was_fenced_is_not_run_again(
    redis_server: RedisServer, linq_env: None
) -> None:
    """A job reacts to a message, then stalls before its send: the reaction is out, so the run is not handed back
    (the leader would react a second time); its send is refused, and nobody runs the rest."""
    reactions: list[str] = []

    @web.middleware
    async def witness(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/reactions"):
            reactions.append(request.path)
        return await handler(request)

    emu = Emulator(read_delay=0)
    emu.app.middlewares.insert(0, witness)
    await emu.start("127.0.0.1")
    follower = scaled_out_bot(redis_server.url, emu)
    try:
        async with leader_process(redis_server.url, emu, stall_before_send=1) as leader:
            await follower.startup()
            scheduler = scheduler_of(follower)
            hello = await follower.send("+15550640001", "hello")
            job = await scheduler.schedule(
                react_then_note, at=timedelta(0), args=(follower.name, hello.chat.message.id, "+15550640002", "note")
            )
            await poll_until(lambda: leader.printed("stalling before a send"), 20, "the leader stalls")
            await poll_until(leader.stopped, 5, "the leader is stopped")
            assert len(reactions) == 1  # made by the leader before it stalled
            await poll_until(lambda: scheduler.leading, 5 * LEASE, "the follower takes over")
            leader.process.send_signal(signal.SIGCONT)
            await poll_until(lambda: scheduler.job_runs(job.id) != [], 10, "the run is in the shared run log")
            [run] = scheduler.job_runs(job.id)
            assert run.outcome == "error" and run.detail.startswith("LeadershipLost")  # the stalled process's run
            await poll_until(lambda: leader.printed(f"job {job.id} stopped after 1 Linq call(s)"), 5, "it says so")
            assert scheduler.jobs() == []
            await emu.settle()
            assert len(reactions) == 1
            assert [m["parts"][0]["value"] for m in emu.messages(direction="outbound")] == ["hello"]
    finally:
        await follower.shutdown()
        await emu.stop()


def take_the_lease(bot: Bot, redis_url: str) -> None:
    """Another process takes the scheduler lease, behind this one's back."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(bot.leadership("scheduler").key, "another-process", px=60_000)
    finally:
        client.close()


async def lose_the_lease_then_note(bot_name: str, redis_url: str, to: str, text: str) -> None:
    """A plain job during which another process takes the scheduler lease: its start passed the fence, its send
    does not."""
    take_the_lease(executing_scheduler(bot_name).bot, redis_url)
    await note(bot_name, to, text)


async def test_a_send_refused_by_the_fence_uses_none_of_the_line_budgets(
    redis_server: RedisServer, emulator: Emulator
) -> None:
    """A refused send went nowhere: the daily and new-conversation budgets pacing counted it against are given back
    (else each refused send would keep its count, and a handed-back run sent by the leader would count twice)."""
    bot = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    try:
        scheduler = await start_leading(bot)
        args = (bot.name, redis_server.url, "+15550650001", "hi")
        job = await scheduler.schedule(lose_the_lease_then_note, at=timedelta(hours=1), args=args)
        outcome = scheduler.wait_for_run(job.id)
        scheduler.run_now(job.id)
        assert (await outcome).outcome == "handed_back"
        store, now, line = bot.safeguards.store, bot.safeguards.clock.now(), emulator.line
        assert await store.count(budget_key(line), DAY, now) == 0
        assert await store.count(f"new_chats:{line}", DAY, now) == 0
        assert emulator.messages(direction="outbound") == []
    finally:
        await bot.shutdown()


async def held_then_note(token: str, bot_name: str, to: str) -> None:
    """A recurring job held open by the test, then sending one message."""
    await GATES[token].hold()
    await note(bot_name, to, "held")


async def test_an_overrun_whose_run_is_handed_back_is_still_reported(
    redis_server: RedisServer, emulator: Emulator, gate: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The run that made later runs skip ends by being handed back: the overrun is reported then, not at shutdown."""
    caplog.set_level(logging.WARNING, "linqbot.scheduler")
    bot = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    bot.every(minutes=5, id="held", args=(gate, bot.name, "+15550660001"))(held_then_note)  # type: ignore[attr-defined]
    client = redis.Redis.from_url(redis_server.url)
    try:
        scheduler = await start_leading(bot)
        assert scheduler.apscheduler is not None
        skipped: list[str] = []
        scheduler.apscheduler.add_listener(lambda event: skipped.append(event.job_id), EVENT_JOB_MAX_INSTANCES)
        scheduler.run_now("held")
        await asyncio.wait_for(GATES[gate].started.wait(), 10)
        scheduler.run_now("held")
        await poll_until(lambda: skipped == ["held"], 10, "the next run is skipped")

        client.set(bot.leadership("scheduler").key, "another-process", px=60_000)
        outcome = scheduler.wait_for_run("held")
        GATES[gate].release.set()  # its send is refused: nothing went out, so the run is handed back
        assert (await outcome).outcome == "handed_back"
        overran = [r.getMessage() for r in caplog.records if "overran" in r.getMessage()]
        assert len(overran) == 1 and "job held overran its schedule: 1 run(s)" in overran[0]
        assert emulator.messages(direction="outbound") == []
    finally:
        client.close()
        await bot.shutdown()


async def type_then_lose_the_lease_then_note(bot_name: str, redis_url: str, chat_id: str, to: str) -> None:
    """A plain job that shows a typing indicator, then loses the lease before its send."""
    await executing_scheduler(bot_name).bot.client.typing_start(chat_id)
    await lose_the_lease_then_note(bot_name, redis_url, to, "after typing")


async def test_a_run_that_only_showed_typing_before_it_was_fenced_is_handed_back(
    redis_server: RedisServer, emulator: Emulator
) -> None:
    """A typing indicator shown again by the leader is seen once: it does not keep a refused run from the leader."""
    bot = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    try:
        scheduler = await start_leading(bot)
        hello = await bot.send("+15550670001", "hello")
        args = (bot.name, redis_server.url, hello.chat.id, "+15550670001")
        job = await scheduler.schedule(type_then_lose_the_lease_then_note, at=timedelta(hours=1), args=args)
        outcome = scheduler.wait_for_run(job.id)
        scheduler.run_now(job.id)
        assert (await outcome).outcome == "handed_back"
        assert [j.id for j in scheduler.jobs()] == [job.id]  # due again, for the leader
    finally:
        await bot.shutdown()


async def campaign_losing_the_lease(bot_name: str, redis_url: str) -> str:
    """A plain job running an outreach campaign to three people; right after the first person's send, the lease goes
    to another process. Returns why the campaign stopped and each person's state."""
    bot = executing_scheduler(bot_name).bot
    campaign = Campaign(bot, id="fenced", recipients=people(3), template="Hi {first_name}", clock=FastClock())

    def after_each_send(status: CampaignStatus) -> None:
        if status.sent == 1:
            take_the_lease(bot, redis_url)

    report = await campaign.run(on_progress=after_each_send)
    return f"{report.stopped}: {','.join(state.status for state in campaign.store.recipients('fenced'))}"


async def test_a_campaign_cut_short_by_a_lost_lease_is_finished_by_the_next_leader(
    redis_server: RedisServer, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refused send is about this process, not the person: the campaign stops with the people not reached still
    pending and the run is handed back (running a campaign again sends only to whoever is left), so the next leader
    sends to each of the others once."""
    monkeypatch.setenv("LINQBOT_OUTREACH_DB", str(tmp_path / "outreach.sqlite3"))
    stalled = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    successor = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    try:
        await stalled.startup()
        scheduler = scheduler_of(stalled)
        await poll_until(lambda: scheduler.leading, 10, "the first bot leads")
        job = await scheduler.schedule(
            campaign_losing_the_lease, at=timedelta(hours=1), args=(stalled.name, redis_server.url)
        )
        outcome = scheduler.wait_for_run(job.id)
        scheduler.run_now(job.id)
        assert (await outcome).outcome == "handed_back"  # not "ok": the campaign is not done
        assert scheduler.job_runs(job.id) == []  # the leader's run is the one recorded
        await stalled.shutdown()
        await emulator.settle()
        assert len(emulator.messages(direction="outbound")) == 1

        client = redis.Redis.from_url(redis_server.url)
        client.delete(successor.leadership("scheduler").key)  # the process that took the lease is gone
        client.close()
        resumed = scheduler_of(successor).wait_for_run(job.id)
        await successor.startup()
        run = await resumed
        assert (run.outcome, run.detail) == ("ok", "None: sent,sent,sent")
        await emulator.settle()
        texts = Counter(str(m["parts"][0]["value"]) for m in emulator.messages(direction="outbound"))
        assert sorted(texts.values()) == [1, 1, 1]  # each person once: the first by the stalled leader
        assert scheduler_of(successor).jobs() == []
    finally:
        await stalled.shutdown()
        await successor.shutdown()


async def held_then_typing_then_note(token: str, bot_name: str, chat_id: str, to: str) -> None:
    """A one-off job held open by the test, then showing typing (a fenced call that pacing, on Redis too, lets pass)
    and sending one message."""
    await GATES[token].hold()
    await executing_scheduler(bot_name).bot.client.typing_start(chat_id)
    await note(bot_name, to, "held")


async def test_a_one_off_run_handed_back_while_redis_is_down_is_kept_until_redis_answers(
    redis_server: RedisServer, emulator: Emulator, gate: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A one-off job leaves the store when claimed, so the process holding a refused run has its only copy: with
    Redis away past the lease, the run is kept and handed back once Redis answers again, and the message goes out
    once (old code: "this run is lost", nothing sent)."""
    bot = scaled_out_bot(redis_server.url, emulator)
    try:
        scheduler = await start_leading(bot)
        hello = await bot.send("+15550680001", "hello")
        args = (gate, bot.name, hello.chat.id, "+15550680001")
        job = await scheduler.schedule(held_then_typing_then_note, at=timedelta(hours=1), args=args)
        handed_back = scheduler.wait_for_run(job.id, timeout=60)
        scheduler.run_now(job.id)
        await asyncio.wait_for(GATES[gate].started.wait(), 10)
        await asyncio.to_thread(redis_server.stop)
        GATES[gate].release.set()  # its typing waits for Redis while the lease lasts, then is refused
        await poll_until(
            lambda: any("cannot be handed to the leader yet" in r.getMessage() for r in caplog.records),
            20,
            "the hand-back waits for Redis",
        )
        await asyncio.to_thread(redis_server.start)
        assert (await handed_back).outcome == "handed_back"
        await emulator.wait_for(lambda: len(emulator.messages(direction="outbound")) >= 2, timeout=20)
        await poll_until(lambda: scheduler.jobs() == [], 10, "the job ran on the leader")
        await emulator.settle()
        texts = [m["parts"][0]["value"] for m in emulator.messages(direction="outbound")]
        assert texts == ["hello", f"held from {os.getpid()}"]
    finally:
        await bot.shutdown()


async def test_a_recurring_run_handed_back_late_does_not_bring_back_an_occurrence_the_leader_has_passed(
    redis_server: RedisServer, emulator: Emulator, gate: str
) -> None:
    """A stalled process hands back a run of a recurring job after the leader has run later occurrences (and moved
    its next run on): the job keeps the leader's next run instead of going back to the old occurrence's time, which
    the leader would run again."""
    bot = scaled_out_bot(redis_server.url, emulator, lease=60.0)
    try:
        scheduler = await start_leading(bot)
        hello = await bot.send("+15550690001", "hello")
        args = (gate, bot.name, hello.chat.id, "+15550690001")
        bot.every(hours=1, id="hourly", args=args)(held_then_typing_then_note)  # type: ignore[attr-defined]
        outcome = scheduler.wait_for_run("hourly")
        scheduler.run_now("hourly")  # claimed: this process writes its next run, an hour on
        await asyncio.wait_for(GATES[gate].started.wait(), 10)

        take_the_lease(bot, redis_server.url)
        [claimed] = scheduler.jobs()
        assert claimed.next_run_time is not None
        leaders_next = claimed.next_run_time + timedelta(hours=1)  # the leader ran the next occurrence meanwhile
        assert scheduler.apscheduler is not None
        scheduler.apscheduler.modify_job("hourly", next_run_time=leaders_next)
        GATES[gate].release.set()  # its typing is refused: nothing went out, so the run is handed back
        assert (await outcome).outcome == "handed_back"
        assert [job.next_run_time for job in scheduler.jobs()] == [leaders_next]  # old code: the claimed run's time
    finally:
        await bot.shutdown()
