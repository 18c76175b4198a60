"""The cost curve: a point per handler count and chat count (ingest and end to end), every event routed and answered
once, and a well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bench import cost_curve, suites


def test_the_curve_routes_every_event_and_plots_each_point(tmp_path: Path) -> None:
    curve = cost_curve.measure(
        handler_counts=(1, 5), chat_counts=(1, 7), rounds=1, events=5, requests=14, end_to_end_rounds=1, burst=9
    )
    assert [p.handlers for p in curve.dispatch] == [1, 5]
    assert [p.chats for p in curve.ingest] == [1, 7]
    assert [p.chats for p in curve.end_to_end] == [1, 7]
    assert all(len(run.replies[e]) == 1 for p in curve.end_to_end for run in p.runs for e in run.inbound_at)
    assert cost_curve.all_handled(curve)
    plot = tmp_path / "cost_curve.svg"
    cost_curve.write_plot(curve, plot)
    circles = ET.parse(plot).getroot().findall(".//{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 2 + 2 * 2 + 2 * 2  # dispatch points + two ingest series + two end-to-end series
    table = cost_curve.render(curve)
    assert "![cost curve](cost_curve.svg)" in table
    assert "| 5 |" in table and "| 7 |" in table


def test_a_suite_rewrites_only_its_own_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nhand-written log\n")
    suites.write_section(results, "memory", "(d) Memory", "first", quick=True)
    suites.write_section(results, "scheduler", "(e) Scheduler", "other", quick=True)
    suites.write_section(results, "memory", "(d) Memory", "second", quick=True)
    text = results.read_text()
    assert "hand-written log" in text and "other" in text and "second" in text and "first" not in text
    assert text.index("second") < text.index("other")
