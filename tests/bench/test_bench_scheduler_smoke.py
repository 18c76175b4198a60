"""The scheduler benchmark: every scheduled message fires exactly once and no pair gets more than the pacing limit.

A small plan with a tight limit (3 per 2 s) and one hot recipient who is scheduled more than that, so pacing has
to hold messages back; timings are never asserted.
"""

from __future__ import annotations

from bench import scheduler


def test_every_job_fires_once_and_pacing_holds_every_pair() -> None:
    result = scheduler.measure(messages=40, recipients=40, hot=1, per_pair=3, pair_window=2.0, rate=40.0)
    assert result.expected == 40 + result.plan.hot_messages
    assert result.all_fired, (result.fired, result.expected, result.duplicates)
    assert result.worst_pair == 3  # the hot recipient got as many as allowed within a window, and no more
    assert len(result.held_lateness_s) == result.plan.hot_messages - 3
    table = scheduler.render(result)
    assert "every scheduled message fired exactly once: yes" in table
    assert f"429s: {result.rate_limited})" in table  # the emulator's refusals are reported, whatever they were
