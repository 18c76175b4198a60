"""Timing: interleaved rounds, every configuration on the same event loop, medians of per-event times.

The machine is shared and noisy, so each round runs every configuration once (the order rotating from round to
round), times whole batches with ``perf_counter_ns``, and the report compares medians taken in the same run.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import dataclass, field

from bench.scenario import Runner, runners


@dataclass
class Figures:
    """Per-event microseconds of one configuration, one entry per measured round.

    Wall-clock time is what a deployment sees; CPU time (this process, all threads) is what the framework itself
    spent, and barely moves when other processes compete for the cores.
    """

    name: str
    parse_us: list[float] = field(default_factory=list)
    total_us: list[float] = field(default_factory=list)
    total_cpu_us: list[float] = field(default_factory=list)

    @property
    def parse(self) -> float:
        return statistics.median(self.parse_us)

    @property
    def total(self) -> float:
        """Median wall-clock time per event of parse + dispatch."""
        return statistics.median(self.total_us)

    @property
    def total_cpu(self) -> float:
        """Median CPU time per event of parse + dispatch."""
        return statistics.median(self.total_cpu_us)


@dataclass
class Measurement:
    rounds: int
    events: int
    figures: list[Figures]
    runners: list[Runner]

    def figure(self, name_prefix: str) -> Figures:
        return next(f for f in self.figures if f.name.startswith(name_prefix))


def _time_parse(runner: Runner) -> int:
    parse = runner.parse
    start = time.perf_counter_ns()
    for raw in runner.payloads:
        parse(raw)
    return time.perf_counter_ns() - start


async def _time_full(runner: Runner) -> tuple[int, int]:
    """Wall-clock and CPU nanoseconds for parsing and dispatching the whole batch."""
    parse, dispatch = runner.parse, runner.dispatch
    start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
    for raw in runner.payloads:
        await dispatch(parse(raw))
    return time.perf_counter_ns() - start, time.process_time_ns() - start_cpu


async def measure_async(rounds: int = 9, events: int = 1000, warmup: int = 1) -> Measurement:
    """Run ``warmup`` unrecorded rounds, then ``rounds`` recorded ones, of ``events`` events per configuration."""
    built = runners(events)
    figures = [Figures(runner.name) for runner in built]
    for round_index in range(warmup + rounds):
        shift = round_index % len(built)
        order = list(range(len(built)))[shift:] + list(range(len(built)))[:shift]
        for index in order:
            runner = built[index]
            if runner.fresh_payloads is not None:
                runner.payloads = runner.fresh_payloads(round_index)
            gc.collect()
            parse_ns = _time_parse(runner)
            gc.collect()
            full_ns, full_cpu_ns = await _time_full(runner)
            if round_index >= warmup:
                figures[index].parse_us.append(parse_ns / events / 1000)
                figures[index].total_us.append(full_ns / events / 1000)
                figures[index].total_cpu_us.append(full_cpu_ns / events / 1000)
    return Measurement(rounds, events, figures, built)


def measure(rounds: int = 9, events: int = 1000, warmup: int = 1) -> Measurement:
    return asyncio.run(measure_async(rounds, events, warmup))
