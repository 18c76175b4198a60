"""Redis out for a moment (a failover, a restart) while the scheduler's leader asks whether it still leads: it asks
again while its lease lasts by its own clock — nobody else can lead before then — instead of stopping its job."""

from __future__ import annotations

import asyncio
import time

from linqbot.inbox.redis_store import RedisLeadership
from linqbot.redis_client import connect
from tests.durability.conftest import RedisServer, poll_until


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
