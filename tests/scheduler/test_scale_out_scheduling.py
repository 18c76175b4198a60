"""Scaled out on one Redis: jobs live in Redis, any process adds, lists and cancels them, only the leader runs them,
and when the leader goes another process takes over and every due job still fires exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import redis
from aiohttp import web
from linqbot_scheduler import BotScheduler, scheduler_of

from linqbot import Bot
from linqbot.emulator import Emulator, FaultConfig, FaultRule
from tests.durability.conftest import RedisServer, poll_until

from .conftest import LEASE, leader_process, scaled_out_bot

RUNS_KEY = "test:job-runs"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def count_run(redis_url: str, label: str) -> None:
    """A plain job: counts its runs in Redis, so a job run by two processes would show up as two."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.hincrby(RUNS_KEY, label, 1)
    finally:
        client.close()


def leaders(schedulers: list[BotScheduler]) -> list[BotScheduler]:
    return [s for s in schedulers if s.leading]


async def start_all(bots: list[Bot]) -> list[BotScheduler]:
    for bot in bots:
        await bot.startup()
    schedulers = [scheduler_of(bot) for bot in bots]
    await poll_until(lambda: len(leaders(schedulers)) == 1, 5 * LEASE, "one process leads")
    return schedulers


def outbound_texts(emu: Emulator) -> Counter[str]:
    return Counter(str(m["parts"][0]["value"]) for m in emu.messages(direction="outbound"))


def sent_at_least(emu: Emulator, count: int) -> Callable[[], bool]:
    return lambda: sum(outbound_texts(emu).values()) >= count


async def test_jobs_added_on_any_process_fire_once_on_the_leader(redis_server: RedisServer, emulator: Emulator) -> None:
    bots = [scaled_out_bot(redis_server.url, emulator) for _ in range(3)]
    try:
        schedulers = await start_all(bots)
        [leader] = leaders(schedulers)
        soon = datetime.now(UTC) + timedelta(milliseconds=300)
        for n, scheduler in enumerate(schedulers):
            for k in range(10):
                await scheduler.schedule_message(to=f"+1555010{n}{k:03d}", text=f"reminder {n}/{k}", at=soon)
                await scheduler.schedule(count_run, at=soon, args=(redis_server.url, f"{n}/{k}"), id=f"count-{n}-{k}")
        later = await schedulers[0].schedule_message(to="+15550109999", text="next week", at=timedelta(days=7))

        follower = next(s for s in schedulers if s is not leader)
        assert later.id in {job.id for job in follower.jobs()}  # every process sees every job
        follower.cancel_job(later.id)
        assert later.id not in {job.id for job in leader.jobs()}

        await emulator.wait_for(sent_at_least(emulator, 30), timeout=20)
        counts = redis.Redis.from_url(redis_server.url)
        await poll_until(lambda: counts.hlen(RUNS_KEY) == 30, 20, "every plain job ran")
        assert set(counts.hgetall(RUNS_KEY).values()) == {b"1"}  # each plain job ran once, on one process
        assert outbound_texts(emulator) == Counter({f"reminder {n}/{k}": 1 for n in range(3) for k in range(10)})
        assert "next week" not in outbound_texts(emulator)
        await poll_until(lambda: follower.jobs() == [], 10, "every job settled")
        # One run log for all processes: the leader's outcomes show on a follower (written in batches, so soon).
        await poll_until(lambda: len(follower.job_runs(limit=1000)) >= 60, 5, "the leader's run log is written")
        assert Counter(run.outcome for run in follower.job_runs(limit=1000)) == Counter({"ok": 60})
        counts.close()
    finally:
        for bot in bots:
            await bot.shutdown()


async def test_when_the_leader_leaves_another_takes_over_and_due_jobs_fire_once(
    redis_server: RedisServer, emulator: Emulator
) -> None:
    bots = [scaled_out_bot(redis_server.url, emulator) for _ in range(3)]
    running = list(bots)
    try:
        schedulers = await start_all(bots)
        for round_ in range(2):
            [leader] = leaders(schedulers)
            survivor = next(s for s in schedulers if s is not leader)
            due = datetime.now(UTC) + timedelta(milliseconds=200)
            for k in range(10):  # due around the handover
                await survivor.schedule_message(to=f"+155502{round_}0{k:03d}", text=f"round {round_}/{k}", at=due)
            await leader.bot.shutdown()  # steps down: the lease is handed over, not waited out
            running.remove(leader.bot)
            schedulers.remove(leader)
            await poll_until(lambda: len(leaders(schedulers)) == 1, 5 * LEASE, "a survivor leads")
            await emulator.wait_for(sent_at_least(emulator, 10 * (round_ + 1)), timeout=20)
        assert outbound_texts(emulator) == Counter({f"round {r}/{k}": 1 for r in range(2) for k in range(10)})
    finally:
        for bot in running:
            await bot.shutdown()


async def test_a_message_whose_leader_dies_mid_send_is_sent_once_by_the_next_leader(
    redis_server: RedisServer, linq_env: None
) -> None:
    arrived = asyncio.Event()
    requests: list[str] = []

    @web.middleware
    async def witness(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/api/partner/v3/chats":
            requests.append(json.loads(await request.read())["message"]["idempotency_key"])
            arrived.set()
        return await handler(request)

    emu = Emulator(read_delay=0)
    emu.app.middlewares.insert(0, witness)
    await emu.start("127.0.0.1")
    # The first send hangs long enough for its process to be killed while it waits for Linq's answer.
    emu.set_faults(FaultConfig(rules=[FaultRule(method="POST", path="/api/partner/v3/chats", latency_ms=5_000)]))
    follower = scaled_out_bot(redis_server.url, emu)
    scheduler_of(follower).configure(send_lease=2.0)
    try:
        async with leader_process(redis_server.url, emu) as leader:
            await follower.startup()
            scheduler = scheduler_of(follower)
            assert not scheduler.leading
            info = await scheduler.schedule_message(to="+15550300001", text="sent once", at=timedelta(0))
            await asyncio.wait_for(arrived.wait(), 10)  # the leader's send reached Linq...
            leader.process.kill()  # ...and the leader dies before the answer
            await leader.process.wait()
            emu.set_faults(FaultConfig())
            run = await scheduler.wait_for_run(info.id, timeout=20)  # the follower leads and sends again
            assert scheduler.leading
            assert run.outcome == "ok"
            await emu.settle()
            assert outbound_texts(emu) == Counter({"sent once": 1})
            assert requests == [f"scheduled:{info.id}"] * 2  # the same idempotency key: Linq keeps one message
            assert scheduler.jobs() == []
    finally:
        await follower.shutdown()
        await emu.stop()
