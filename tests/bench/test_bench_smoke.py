"""The benchmark harness measures what it claims: every configuration routes every event to its last handler.

Timings are never asserted here (the machine is shared); only that the harness is correct and its report complete.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report
from bench.__main__ import main
from bench.harness import Measurement, measure

EVENTS = 4
ROUNDS = 2
WARMUP = 1


@pytest.fixture(scope="module")
def result() -> Measurement:
    return measure(rounds=ROUNDS, events=EVENTS, warmup=WARMUP)


def test_every_configuration_routes_every_event_to_its_last_handler(result: Measurement) -> None:
    dispatched = (ROUNDS + WARMUP) * EVENTS
    assert [runner.name for runner in result.runners] == [
        "linqbot",
        "linqbot, default Bot()",
        "aiogram (best: async filters)",
        "aiogram (common: magic F filters)",
    ]
    for runner in result.runners:
        assert runner.counters.handled == dispatched, runner.name
        assert runner.counters.misrouted == 0, runner.name
        assert runner.counters.outer == dispatched, runner.name
        assert runner.counters.inner == 2 * dispatched, runner.name
        assert runner.counters.api_calls == 0, runner.name  # the default Bot's safeguards stayed off the network


def test_each_recorded_round_gives_one_figure_per_configuration(result: Measurement) -> None:
    for figures in result.figures:
        assert len(figures.total_us) == ROUNDS
        assert len(figures.parse_us) == ROUNDS
        assert all(value > 0 for value in figures.total_us + figures.parse_us)


def test_the_table_has_a_row_per_configuration_and_the_ratios(result: Measurement) -> None:
    table = report.render(result)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| configuration |")
    assert [row.split(" | ")[0] for row in rows[1:]] == [
        "| linqbot",
        "| linqbot, default Bot()",
        "| aiogram (best: async filters)",
        "| aiogram (common: magic F filters)",
    ]
    assert rows[1].endswith("| 1.0× |")
    assert "faster than aiogram's best configuration" in table
    assert "target linqbot ≤ 30 µs/event" in table
    assert "target ≥ 5× aiogram best" in table
    for needle in ("Python ", "aiogram 3.", "pydantic 2.", "logical CPUs"):
        assert needle in table


def test_rerunning_replaces_only_the_generated_block(result: Measurement, tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nhand-written log before\n")
    report.write(result, results)
    results.write_text(results.read_text() + "\nhand-written log after\n")
    report.write(result, results)
    text = results.read_text()
    assert text.count(report.START) == 1 and text.count(report.END) == 1
    assert text.index("log before") < text.index(report.START) < text.index(report.END) < text.index("log after")


def test_the_command_prints_and_records_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "RESULTS.md"
    main(["dispatch", "--rounds", "1", "--events", "2", "--output", str(results)])
    printed = capsys.readouterr().out
    assert "| linqbot |" in printed
    assert report.START in results.read_text()
