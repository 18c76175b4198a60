"""A scheduler leader that stalls past its lease (SIGSTOP: a long GC pause, a laptop sleep) after claiming due jobs
and before sending them: another process takes over, and when the stalled one resumes it sends nothing — its runs
are handed back to the leader — so every due job reaches its person exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from asyncio.subprocess import PIPE, STDOUT
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from aiohttp import web
from linqbot_scheduler import scheduler_of

from linqbot.emulator import Emulator
from tests.durability.conftest import REPO, RedisServer, poll_until

from .conftest import LEASE, scaled_out_bot
from .stalling_leader import note, two_notes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SCRIPT = Path(__file__).with_name("stalling_leader.py")


@dataclass
class Leader:
    """The stalling leader's process and everything it printed so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stopped(self) -> bool:
        """The process is stopped by a signal (state T in /proc)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "T"


@contextlib.asynccontextmanager
async def stalling_leader(redis_url: str, emu: Emulator, before_send: int = 1) -> AsyncIterator[Leader]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env |= {
        "LINQ_API_KEY": emu.api_key,
        "LINQ_BASE_URL": emu.base_url,
        "LINQ_WEBHOOK_SECRET": "scale-out-secret",
        "LINQ_PHONE_NUMBER": emu.line,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]),
        "STALL_BEFORE_SEND": str(before_send),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), redis_url, env=env, stdout=PIPE, stderr=STDOUT
    )
    leader = Leader(process)

    async def read() -> None:
        assert process.stdout is not None
        while line := (await process.stdout.readline()).decode():
            leader.lines.append(line)

    reader = asyncio.get_running_loop().create_task(read())
    try:
        await poll_until(lambda: leader.printed("this process leads") or reader.done(), 20, "the leader leads")
        assert leader.printed("this process leads"), "the leader process exited:\n" + "".join(leader.lines)
        yield leader
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.kill()
        await process.wait()
        await reader


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
        async with stalling_leader(redis_server.url, emu) as leader:
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


async def test_a_leader_whose_lease_went_to_another_process_behind_its_back_runs_nothing_until_it_leads_again(
    redis_server: RedisServer, emulator: Emulator
) -> None:
    """After a laptop sleep the monotonic clock has not moved, yet Redis let the lease lapse and another process took
    it: the fence asks Redis, so the due job is not run here but stays due for whoever leads."""
    bot = scaled_out_bot(redis_server.url, emulator)
    client = redis.Redis.from_url(redis_server.url)
    try:
        await bot.startup()
        scheduler = scheduler_of(bot)
        await scheduler.schedule(note, at=timedelta(hours=1), args=(bot.name, "+15550620001", "due"), id="due-note")
        await poll_until(lambda: scheduler.leading, 5 * LEASE, "the bot leads")

        lease = bot.leadership("scheduler").key
        client.set(lease, "another-process", px=60_000)
        scheduler.run_now("due-note")  # due at once, before this process's next lease renewal finds out
        await poll_until(lambda: not scheduler.leading, 5, "the bot steps aside")
        now = datetime.now(UTC)
        await poll_until(
            lambda: (
                [(j.id, j.next_run_time is not None and j.next_run_time <= now) for j in scheduler.jobs()]
                == [("due-note", True)]
            ),
            5,
            "the job is due in the store, for the leader",
        )
        assert emulator.messages(direction="outbound") == []

        client.delete(lease)  # the other process is gone: this one wins the lease back and runs the job
        await emulator.wait_for(lambda: emulator.messages(direction="outbound"), timeout=5 * LEASE)
        await poll_until(lambda: scheduler.jobs() == [], 5, "the job ran")
        await emulator.settle()
        texts = [m["parts"][0]["value"] for m in emulator.messages(direction="outbound")]
        assert texts == [f"due from {os.getpid()}"]
    finally:
        client.close()
        await bot.shutdown()


async def test_a_run_fenced_after_it_sent_is_not_run_again(redis_server: RedisServer, emulator: Emulator) -> None:
    """A job that stalls between its two sends: the first went out, so running it again would repeat it; the second
    is refused, the run ends as an error and nobody sends the rest (at most once, as after a crash)."""
    follower = scaled_out_bot(redis_server.url, emulator)
    try:
        async with stalling_leader(redis_server.url, emulator, before_send=2) as leader:
            await follower.startup()
            scheduler = scheduler_of(follower)
            job = await scheduler.schedule(
                two_notes, at=timedelta(0), args=(follower.name, "+15550630001", "+15550630002", "pair")
            )
            await poll_until(lambda: leader.printed("stalling before a send"), 20, "the leader stalls")
            await poll_until(leader.stopped, 5, "the leader is stopped")
            await poll_until(lambda: scheduler.leading, 5 * LEASE, "the follower takes over")
            leader.process.send_signal(signal.SIGCONT)
            await poll_until(lambda: leader.printed(f"job {job.id} stopped after 1 send(s)"), 10, "the leader says so")
            await poll_until(lambda: scheduler.job_runs(job.id) != [], 5, "the run is in the shared run log")
            [run] = scheduler.job_runs(job.id)
            assert run.outcome == "error" and run.detail.startswith("LeadershipLost")
            await emulator.settle()
            texts = [m["parts"][0]["value"] for m in emulator.messages(direction="outbound")]
            assert texts == [f"pair from {leader.process.pid}"]  # the first send only, made before the stall
            assert scheduler.jobs() == []
    finally:
        await follower.shutdown()
