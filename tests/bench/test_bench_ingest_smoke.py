"""The ingest benchmark's harness: every server answers every distinct, signed request 200 and handles it once.

Tiny sizes, real processes over loopback; timings are never asserted (the machine is shared).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest

from bench import ingest
from bench.loopback import LoadGenerator, ServerProcess

ROUNDS = 1
REQUESTS = 40

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")


@pytest.fixture(scope="module")
def result() -> ingest.IngestResult:
    return ingest.measure(rounds=ROUNDS, requests=REQUESTS, concurrency=4, chats=3)


def test_every_request_is_answered_200_and_every_event_handled_exactly_once(result: ingest.IngestResult) -> None:
    sent = (ROUNDS + 1) * REQUESTS  # the warm-up round included
    assert [f.name for f in result.figures] == list(ingest.CONFIGURATIONS)
    for figures in result.figures:
        assert figures.statuses == {200: sent}, figures.name
        assert figures.handled == sent, figures.name
        assert figures.misrouted == 0, figures.name


async def test_a_redelivered_webhook_is_answered_but_not_handled_again(tmp_path: Path) -> None:
    """What "exactly once" rests on: the linqbot server dedups by event id, so a repeat is answered, not rerun."""
    deliveries = ingest.linq_deliveries("dup", 3)
    server = ServerProcess(ingest.server_factory(ingest.LINQBOT_SQLITE, tmp_path))
    server.wait_ready()
    load_generator = LoadGenerator()
    try:
        first = await load_generator.send(server.url + "/webhook", deliveries, 2)
        again = await load_generator.send(server.url + "/webhook", deliveries, 2)
        async with aiohttp.ClientSession() as session:
            stats = await server.wait_until(session, lambda s: s["handled"] >= 3, timeout=10)
    finally:
        server.stop()
    assert first.statuses == again.statuses == {200: 3}
    assert stats["handled"] == 3


def test_the_report_has_a_row_per_configuration_and_the_targets(result: ingest.IngestResult) -> None:
    table = ingest.render(result)
    rows = [line.split(" | ")[0].removeprefix("| ") for line in table.splitlines() if line.startswith("| ")]
    assert rows[1:] == list(ingest.CONFIGURATIONS)
    assert "≥ 50% of the floor" in table and "≥ 2× aiogram best" in table
    assert "every request answered 200: yes; every event handled exactly once (warm-up included): yes" in table
