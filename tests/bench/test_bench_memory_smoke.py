"""The memory benchmark: one fresh subprocess per case, a row per case, and every entry really stored."""

from __future__ import annotations

from bench import memory


def test_the_rss_table_has_a_row_per_case_and_nothing_was_lost() -> None:
    rows = memory.measure(states=300, jobs=30)
    assert [row.case for row in rows] == list(memory.CASES)
    assert [row.count for row in rows] == [300, 300, 30]
    for row in rows:
        assert row.found == memory.expected_found(row), row.case
        assert 0 < row.rss_before_mb <= row.rss_after_mb, row.case
    table = memory.render(rows)
    for case in memory.CASES:
        assert f"| {case} |" in table
    assert "< 200 MB for 300 states" in table
