"""The naive-bot scenario (bench/naive_bot_scenario.py): with the safeguards on, the line stays clean."""

from __future__ import annotations

import pytest

from bench.naive_bot_scenario import BLAST, CAMPAIGN_ROUNDS, FLOOD, run

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_a_naive_bot_cannot_hurt_its_line() -> None:
    outcome = await run(protected=True)
    assert outcome.rate_limited == 0
    assert outcome.sent_after_stop == 0 and outcome.requests_after_stop == 0
    assert outcome.sent_to_silent == 3, "held after 3 unanswered messages"
    assert outcome.blast_delivered < BLAST and outcome.held >= CAMPAIGN_ROUNDS * 2 - 3
    assert outcome.flood_dispatched < FLOOD // 4
    assert outcome.loop_replies <= 6
    assert outcome.worst_health != "CRITICAL"


async def test_without_the_safeguards_the_same_bot_does_damage() -> None:
    outcome = await run(protected=False)
    assert outcome.rate_limited > 0
    assert outcome.requests_after_stop == CAMPAIGN_ROUNDS
    assert outcome.worst_health == "CRITICAL"
