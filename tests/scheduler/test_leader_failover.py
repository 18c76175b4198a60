"""Redis out for a moment (a failover, a restart) while the scheduler's leader renews its lease or asks whether it
still leads: it rides the outage out while its lease lasts by its own clock — nobody else can lead before then —
instead of stopping its job, and steps down once the lease may have lapsed."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
import redis
from linqbot_scheduler.jobs import executing_scheduler

from linqbot.emulator import Emulator
from linqbot.inbox.redis_store import RedisLeadership
from linqbot.redis_client import connect
from tests.durability.conftest import RedisServer, poll_until

from .conftest import GATES, scaled_out_bot, start_leading


class CountingClock:
    """The monotonic clock, counting its readings: a confirmation that reads it again is retrying."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return time.monotonic()


async def test_a_leader_confirms_its_lease_across_a_redis_restart(redis_server: RedisServer) -> None:
    clock = CountingClock()
    leadership = RedisLeadership(connect(redis_server.url), "test:leader", ttl=30.0, clock=clock)
    assert await leadership.campaign()
    redis_server.stop()  # the lease key is on disk (AOF), as on a replica promoted in a failover
    before = clock.readings
    confirming = asyncio.get_running_loop().create_task(leadership.confirm())
    await poll_until(lambda: confirming.done() or clock.readings > before + 1, 5, "a confirmation fails once")
    await asyncio.to_thread(redis_server.start)
    assert await asyncio.wait_for(confirming, 10) is True


async def test_a_leader_whose_redis_stays_away_past_its_lease_is_told_no(redis_server: RedisServer) -> None:
    leadership = RedisLeadership(connect(redis_server.url), "test:leader", ttl=1.0)
    assert await leadership.campaign()
    redis_server.stop()
    assert await asyncio.wait_for(leadership.confirm(), 5) is False
    assert not leadership.is_leader


def failed_renewals(caplog: pytest.LogCaptureFixture) -> int:
    """Lease renewals that found Redis gone, as the leadership logs them."""
    return sum(
        record.getMessage().startswith("leadership ") and "redis unreachable" in record.getMessage()
        for record in caplog.records
    )


async def test_a_leader_rides_out_a_redis_restart_during_a_renewal(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    leadership = RedisLeadership(connect(redis_server.url), "test:leader", ttl=6.0)  # renewed every 2 s
    await leadership.start()
    try:
        assert leadership.is_leader
        redis_server.stop()
        await poll_until(lambda: failed_renewals(caplog) > 0, 10, "a renewal meets Redis gone")
        assert leadership.is_leader, "the lease still holds by this process's clock"
        await asyncio.to_thread(redis_server.start)
        with redis.Redis.from_url(redis_server.url) as client:
            # The last renewal that reached Redis was 2 s or more before it went: a lease longer than 4 s is new.
            await poll_until(lambda: client.pttl("test:leader") > 4000, 10, "a renewal reaches Redis again")
            assert client.get("test:leader") == leadership.owner.encode()
        assert leadership.is_leader
        assert not any("lost" in record.getMessage() for record in caplog.records)
    finally:
        await leadership.stop()


async def test_a_leader_whose_redis_stays_away_steps_down_when_its_lease_may_have_lapsed(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    leadership = RedisLeadership(connect(redis_server.url), "test:leader", ttl=1.5)
    await leadership.start()
    lease_ends = time.monotonic() + 1.5  # the lease runs from before this, its last renewal, was sent
    try:
        redis_server.stop()
        await poll_until(lambda: failed_renewals(caplog) > 0, 5, "a renewal meets Redis gone")
        while leadership.is_leader:
            assert time.monotonic() < lease_ends, "never leading past the lease"
            await asyncio.sleep(0.01)
        regained = asyncio.get_running_loop().create_task(leadership.wait_until_leader())
        assert not await leadership.campaign() and not leadership.is_leader, "Redis still away: no leadership"
        await asyncio.to_thread(redis_server.start)
        await asyncio.wait_for(regained, 10)  # Redis back: the lease, lapsed, is taken again
        assert leadership.is_leader
    finally:
        await leadership.stop()


RUNS: dict[str, int] = {}
"""How often each test's gated job started (a run handed back and run again would count twice)."""


async def gated_note(token: str, bot_name: str, to: str) -> None:
    """A job held open by the test, then sending one message."""
    RUNS[token] = RUNS.get(token, 0) + 1
    await GATES[token].hold()
    await executing_scheduler(bot_name).bot.send(to, "after the restart")


async def test_a_job_running_across_a_redis_restart_completes_on_the_same_leader(
    redis_server: RedisServer, emulator: Emulator, gate: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = scaled_out_bot(redis_server.url, emulator, lease=6.0)
    try:
        scheduler = await start_leading(bot)
        job = await scheduler.schedule(
            gated_note, at=timedelta(milliseconds=200), args=(gate, bot.name, "+15550770001")
        )
        outcome = scheduler.wait_for_run(job.id, timeout=30)
        await asyncio.wait_for(GATES[gate].started.wait(), 10)
        redis_server.stop()
        await poll_until(lambda: failed_renewals(caplog) > 0, 10, "a renewal meets Redis gone")
        await asyncio.to_thread(redis_server.start)
        GATES[gate].release.set()
        assert (await asyncio.wait_for(outcome, 20)).outcome == "ok"
        assert RUNS[gate] == 1, "run once, never handed back"
        assert [m["parts"][0]["value"] for m in emulator.messages(direction="outbound")] == ["after the restart"]
        assert scheduler.leading
    finally:
        await bot.shutdown()
