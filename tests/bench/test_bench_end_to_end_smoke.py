"""The end-to-end benchmark's harness: every inbound message is answered exactly once, in both bot profiles.

Tiny sizes: the emulator here, each bot in its own process; timings are never asserted.
"""

from __future__ import annotations

import pytest

from bench import end_to_end

BURST = 12
PACED = 12


@pytest.fixture(scope="module")
def result() -> end_to_end.EndToEndResult:
    return end_to_end.measure(rounds=1, burst=BURST, rate=50.0, paced_events=PACED, persons=12)


def test_every_event_is_handled_once_and_answered_once(result: end_to_end.EndToEndResult) -> None:
    assert [f.name for f in result.figures] == list(end_to_end.PROFILES)
    for figures in result.figures:
        assert [run.events for run in figures.runs] == [BURST, PACED]
        for run in figures.runs:
            assert run.handled == run.events, figures.name
            assert run.duplicates == 0, figures.name
            assert all(len(run.replies[event]) == 1 for event in run.inbound_at), figures.name
            assert run.statuses == {200: run.events}, figures.name
        assert figures.exactly_once


def test_each_latency_is_measured_from_both_sides(result: end_to_end.EndToEndResult) -> None:
    for figures in result.figures:
        assert len(figures.framework_ms) == PACED
        assert all(latency > 0 for latency in figures.framework_ms + figures.person_ms)
        table = end_to_end.render(result)
        assert f"| {figures.name} |" in table
    assert "every event answered exactly once: yes; every reply accepted by the emulator: yes" in table
