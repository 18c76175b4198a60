"""Scheduled messages when Linq misbehaves or the bot is overloaded: transient failures (5xx, dropped connections,
429) are retried under the same idempotency key until sent exactly once; refusals stay failed and visible in the run
log; and sends from jobs never exceed ``max_concurrent_sends`` at once."""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from linqbot_scheduler import BotScheduler, scheduler_of

from linqbot import Bot
from linqbot.emulator import Emulator, FaultConfig, FaultRule
from linqbot.middleware import Pacing, Safeguards
from linqbot.outbound import RetryPolicy
from tests.durability.conftest import free_port, poll_until

pytestmark = pytest.mark.usefixtures("jobs_url")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SENDS = "/api/partner/v3/chats"
QUICK_BACKOFF = RetryPolicy(base_delay=0.05, max_delay=0.5)


def fragile_bot() -> Bot:
    """A bot whose client gives up on the first failure, so every fault reaches the scheduler's own retries."""
    return Bot(
        env_file=None,
        plugins=["scheduler"],
        retry=RetryPolicy(max_attempts=1),
        safeguards=Safeguards(
            pacing=Pacing(daily_budget=None, new_chats_per_day=None),
            typing=None,
            health=None,
            non_responders=None,
            flood=None,
            loop_breaker=None,
        ),
    )


class SendWitness:
    """Emulator middleware that notes every send's idempotency key and the most sends under way at once."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    @web.middleware
    async def watch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != SENDS:
            return await handler(request)
        self.keys.append(json.loads(await request.read())["message"]["idempotency_key"])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


class DroppingProxy:
    """Forwards API calls to the emulator but, for a fraction of sends, cuts the connection after the emulator has
    acted: the client sees a connection error for a message that was in fact sent (as with a timeout)."""

    def __init__(self, upstream: str, drop_rate: float) -> None:
        self.upstream = upstream
        self.drop_rate = drop_rate
        self.rng = random.Random(7)
        self.dropped = 0

    async def forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self.session.request(
            request.method, f"{self.upstream}{request.path_qs}", data=await request.read(), headers=headers
        ) as upstream:
            body, status, content_type = await upstream.read(), upstream.status, upstream.content_type
        if request.path == SENDS and status == 200 and self.rng.random() < self.drop_rate:
            self.dropped += 1
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("response dropped on purpose")
        return web.Response(status=status, body=body, content_type=content_type)

    async def __aenter__(self) -> str:
        """Start; returns the API base URL to give the bot."""
        port = free_port()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.session = aiohttp.ClientSession()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}/api/partner"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()
        await self.session.close()


@contextlib.asynccontextmanager
async def running(bot: Bot, emu: Emulator, base_url: str | None = None) -> AsyncIterator[BotScheduler]:
    """The bot started against ``emu`` (or whatever stands at ``base_url`` in front of it); no webhooks needed."""
    bot.configure(api_key=emu.api_key, base_url=base_url or emu.base_url, webhook_secret="s", phone_number=emu.line)
    await bot.startup()
    try:
        yield scheduler_of(bot)
    finally:
        await bot.shutdown()


@pytest.fixture
async def witnessed() -> AsyncIterator[tuple[Emulator, SendWitness]]:
    witness = SendWitness()
    emu = Emulator(read_delay=0)
    emu.app.middlewares.insert(0, witness.watch)
    await emu.start("127.0.0.1")
    try:
        yield emu, witness
    finally:
        await emu.stop()


def outbound_texts(emu: Emulator) -> Counter[str]:
    return Counter(str(m["parts"][0]["value"]) for m in emu.messages(direction="outbound"))


def final_outcomes(scheduler: BotScheduler) -> dict[str, list[str]]:
    runs: dict[str, list[str]] = {}
    for run in scheduler.job_runs(limit=10_000):
        runs.setdefault(run.job_id, []).append(run.outcome)
    return runs


async def test_5xx_dropped_connections_and_429_are_retried_until_each_message_is_sent_once(
    witnessed: tuple[Emulator, SendWitness],
) -> None:
    emu, witness = witnessed
    emu.set_faults(
        FaultConfig(seed=5, rules=[FaultRule(method="POST", path=SENDS, error_rate=0.3)], rate_limit_storm=5)
    )
    bot = fragile_bot()
    scheduler_of(bot).configure(retry_backoff=QUICK_BACKOFF)
    proxy = DroppingProxy(emu.url, 0.2)
    async with proxy as api, running(bot, emu, api) as scheduler:
        people = [f"+1555040{n:04d}" for n in range(40)]
        for n, person in enumerate(people):
            await scheduler.schedule_message(to=person, text=f"reminder {n}", at=timedelta(0), id=f"r{n}")
        await poll_until(lambda: scheduler.jobs() == [], 60, "every scheduled message is settled")
        await emu.settle()

    assert outbound_texts(emu) == Counter(f"reminder {n}" for n in range(40))  # none lost, none doubled
    runs = final_outcomes(scheduler)
    assert {job: outcomes[-1] for job, outcomes in runs.items()} == {f"r{n}": "ok" for n in range(40)}
    retried = [job for job, outcomes in runs.items() if "retrying" in outcomes]
    assert proxy.dropped > 0 and emu.engine.faults.storm_left == 0, "every kind of fault really hit"
    assert len(retried) >= 10
    assert len(witness.keys) > 40 and set(witness.keys) == {f"scheduled:r{n}" for n in range(40)}


async def test_refusals_and_failures_past_the_deadline_stay_failed_and_visible(
    witnessed: tuple[Emulator, SendWitness],
) -> None:
    emu, witness = witnessed
    bot = fragile_bot()
    scheduler_of(bot).configure(retry_backoff=QUICK_BACKOFF, retry_for=1.0)
    async with running(bot, emu) as scheduler:
        refused = await scheduler.schedule_message(to="not a number", text="never", at=timedelta(0))
        run = await scheduler.wait_for_run(refused.id)
        assert (run.outcome, run.detail.split(":")[0]) == ("error", "ScheduledSendFailed")
        assert "InvalidRequest (status 400" in run.detail
        assert witness.keys.count(f"scheduled:{refused.id}") == 1  # a 4xx is not tried again

        emu.set_faults(FaultConfig(rules=[FaultRule(method="POST", path=SENDS, error_rate=1.0)]))
        doomed = await scheduler.schedule_message(to="+15550400001", text="Linq is down", at=timedelta(0))
        await poll_until(lambda: scheduler.jobs() == [], 20, "the message gives up after retry_for")
        outcomes = [run.outcome for run in scheduler.job_runs(doomed.id)]
        assert outcomes[-1] == "error" and set(outcomes[:-1]) == {"retrying"} and len(outcomes) >= 3
        assert "ServerError (status 503" in scheduler.job_runs(doomed.id)[-1].detail
    assert outbound_texts(emu) == Counter()


async def test_sends_from_jobs_are_bounded_and_all_go_out_once(witnessed: tuple[Emulator, SendWitness]) -> None:
    emu, witness = witnessed
    emu.set_faults(FaultConfig(rules=[FaultRule(method="POST", path=SENDS, latency_ms=100)]))
    bot = fragile_bot()
    scheduler_of(bot).configure(max_concurrent_sends=3)
    async with running(bot, emu) as scheduler:
        for n in range(20):
            await scheduler.schedule_message(to=f"+1555041{n:04d}", text=f"batch {n}", at=timedelta(0))
        await poll_until(lambda: scheduler.jobs() == [], 30, "every message is sent")
    assert witness.most_in_flight == 3  # the bound was reached and never exceeded
    assert outbound_texts(emu) == Counter(f"batch {n}" for n in range(20))
