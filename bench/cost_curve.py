"""(f) The cost curve: dispatch time against the number of handlers, ingest and end-to-end throughput against chats.

Dispatch: a root router with N message handlers of which only the last matches (the worst case: every filter runs),
fed by the core `Dispatcher`, interleaved across N, medians. Ingest: `bench.ingest` against the linqbot servers with
the deliveries spread over K chats. End to end: `bench.end_to_end` bursts (emulator → webhook → bot → reply accepted
by the emulator) spread over K simulated people, one chat each, for the core bot and the bare aiohttp floor (the
default Bot() is left out: its pacing deliberately slows a chat that gets many messages, which is the point at
K = 1; for the same reason the emulator's per-pair rate limit is lifted here). The plot is a small hand-written
SVG (no plotting library needed).
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from bench import end_to_end, ingest
from bench.scenario import linq_payloads
from linqbot import Bot
from linqbot.dispatch import Context, Dispatcher, Router
from linqbot.events import Event, parse_event

HANDLER_COUNTS = (1, 10, 50, 100, 200)
CHAT_COUNTS = (1, 100, 10_000)
END_TO_END_BOTS = (end_to_end.FLOOR, end_to_end.CORE)
UNLIMITED = 10**9
"""The emulator's per-pair limit (Linq's 30 per 60 s) for the end-to-end curve, which measures throughput, not it."""
PLOT_PATH = Path(__file__).with_name("cost_curve.svg")


def dispatcher_with(handlers: int) -> tuple[Callable[[Event], Awaitable[Any]], list[int]]:
    """A core dispatcher with ``handlers`` handlers (``contains`` filters), only the last of which matches."""
    bot = Bot(plugins=[f"-{ep.name}" for ep in entry_points(group="linqbot")] or None, env_file=None)
    root = Router("cost-curve")
    dispatcher = Dispatcher(root)
    hits = [0, 0]  # [matched the last handler, reached any other]

    async def miss(ctx: Context) -> None:
        hits[1] += 1

    async def last(ctx: Context) -> None:
        hits[0] += 1

    for n in range(handlers - 1):
        root.on_message(contains=f"keyword-{n}")(miss)
    root.on_message(contains="order")(last)

    def dispatch(event: Event) -> Awaitable[Any]:
        return dispatcher.feed(Context(bot, event))

    return dispatch, hits


@dataclass
class DispatchPoint:
    handlers: int
    us: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)

    @property
    def median_us(self) -> float:
        return statistics.median(self.us)


async def dispatch_curve(
    counts: tuple[int, ...] = HANDLER_COUNTS, rounds: int = 7, events: int = 1000
) -> list[DispatchPoint]:
    """Per-event µs of parse + dispatch for each handler count, in interleaved rounds."""
    payloads = linq_payloads(events)
    built = [dispatcher_with(n) for n in counts]
    points = [DispatchPoint(n) for n in counts]
    for round_index in range(rounds + 1):  # the first round warms up
        for index in [*range(round_index % len(counts), len(counts)), *range(round_index % len(counts))]:
            dispatch, _ = built[index]
            gc.collect()
            start = time.perf_counter_ns()
            for raw in payloads:
                await dispatch(parse_event(raw))
            if round_index:
                points[index].us.append((time.perf_counter_ns() - start) / events / 1000)
    for point, (_, hits) in zip(points, built, strict=True):
        point.hits = hits
    return points


@dataclass
class ChatPoint:
    chats: int
    result: ingest.IngestResult


@dataclass
class EndToEndPoint:
    chats: int
    events_per_second: dict[str, list[float]]
    runs: list[end_to_end.Run] = field(default_factory=list)

    def median(self, bot: str) -> float:
        return statistics.median(self.events_per_second[bot])


async def end_to_end_curve(
    counts: tuple[int, ...] = CHAT_COUNTS, rounds: int = 3, burst: int = 1000
) -> list[EndToEndPoint]:
    """Burst events/s per chat count: a fresh emulator and bots per count, bots interleaved round by round."""
    points = []
    for chats in counts:
        point = EndToEndPoint(chats, {bot: [] for bot in END_TO_END_BOTS})
        async with end_to_end.Bench(END_TO_END_BOTS, chats, pair_limit=UNLIMITED) as bench:
            for bot in END_TO_END_BOTS:  # warm-up: imports and connection pools (each person's first message
                await bench.run(bot, min(burst, 50), None)  # opens their chat, inside the measured bursts)
            for round_index in range(rounds):
                shift = round_index % len(END_TO_END_BOTS)
                for bot in END_TO_END_BOTS[shift:] + END_TO_END_BOTS[:shift]:
                    run = await bench.run(bot, burst, None)
                    point.events_per_second[bot].append(run.events_per_second)
                    point.runs.append(run)
        points.append(point)
    return points


@dataclass
class CostCurve:
    dispatch: list[DispatchPoint]
    ingest: list[ChatPoint]
    end_to_end: list[EndToEndPoint]
    events: int
    rounds: int
    burst: int


def measure(
    handler_counts: tuple[int, ...] = HANDLER_COUNTS,
    chat_counts: tuple[int, ...] = CHAT_COUNTS,
    rounds: int = 5,
    events: int = 1000,
    requests: int = 2000,
    end_to_end_rounds: int | None = None,
    burst: int | None = None,
) -> CostCurve:
    """End to end defaults to min(rounds, 3) rounds of bursts of ``requests // 2`` (1000 at full size)."""
    dispatch = asyncio.run(dispatch_curve(handler_counts, rounds, events))
    configurations = (ingest.LINQBOT_SQLITE, ingest.LINQBOT_MEMORY)
    chats = [
        ChatPoint(k, ingest.measure(rounds=rounds, requests=requests, chats=k, configurations=configurations))
        for k in chat_counts
    ]
    burst = burst or requests // 2
    through = asyncio.run(end_to_end_curve(chat_counts, end_to_end_rounds or min(rounds, 3), burst))
    return CostCurve(dispatch, chats, through, events, rounds, burst)


def routed_once(curve: CostCurve) -> bool:
    """Every dispatched event reached the last handler and no other."""
    dispatched = (curve.rounds + 1) * curve.events
    return all(p.hits == [dispatched, 0] for p in curve.dispatch)


def ingested_once(curve: CostCurve) -> bool:
    return all(f.handled == f.sent and f.misrouted == 0 for p in curve.ingest for f in p.result.figures)


def answered_once(curve: CostCurve) -> bool:
    """Every end-to-end event was answered exactly once and every reply accepted by the emulator."""
    return all(run.exactly_once and set(run.statuses) <= {200} for p in curve.end_to_end for run in p.runs)


def all_handled(curve: CostCurve) -> bool:
    return routed_once(curve) and ingested_once(curve) and answered_once(curve)


def render(curve: CostCurve, plot_name: str = PLOT_PATH.name) -> str:
    first = curve.dispatch[0].median_us
    lines = [
        f"![cost curve]({plot_name})",
        "",
        f"Dispatch (parse + route, only the last handler matches; {curve.rounds} interleaved rounds × "
        f"{curve.events} events, medians):",
        "",
        "| handlers | µs/event | vs 1 handler | µs per extra handler |",
        "|---:|---:|---:|---:|",
    ]
    for point in curve.dispatch:
        extra = (point.median_us - first) / (point.handlers - 1) if point.handlers > 1 else 0.0
        lines.append(f"| {point.handlers} | {point.median_us:.1f} | {point.median_us / first:.1f}× | {extra:.2f} |")
    lines += ["", "Ingest against the number of chats the deliveries are spread over (requests/s, medians):", ""]
    names = [f.name for f in curve.ingest[0].result.figures]
    lines += ["| chats | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for chat_point in curve.ingest:
        cells = " | ".join(f"{f.rps:,.0f}" for f in chat_point.result.figures)
        lines.append(f"| {chat_point.chats:,} | {cells} |")
    lines += [
        "",
        f"End to end against the number of chats (emulator → webhook → bot → reply accepted; bursts of {curve.burst} "
        "inbound messages spread over that many people, events/s, medians):",
        "",
        "| chats | " + " | ".join(END_TO_END_BOTS) + " |",
        "|---:|" + "---:|" * len(END_TO_END_BOTS),
    ]
    for e2e_point in curve.end_to_end:
        cells = " | ".join(f"{e2e_point.median(bot):,.0f}" for bot in END_TO_END_BOTS)
        lines.append(f"| {e2e_point.chats:,} | {cells} |")
    checks = {
        "every dispatched event routed to its handler exactly once": routed_once(curve),
        "every ingested event handled exactly once": ingested_once(curve),
        "every end-to-end event answered exactly once, every reply accepted": answered_once(curve),
    }
    lines += [""] + [f"- {check}: {'yes' if passed else '**no**'}" for check, passed in checks.items()]
    return "\n".join(lines)


# -- the plot --------------------------------------------------------------------------------------------------------

WIDTH, HEIGHT, MARGIN = 360, 240, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c")


def _panel(title: str, x_label: str, y_label: str, series: dict[str, list[tuple[float, float]]], log_x: bool) -> str:
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    scale_x: Callable[[float], float] = math.log10 if log_x else float
    x_lo, x_hi = scale_x(min(xs)), scale_x(max(xs))
    y_hi = max(ys) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def px(x: float) -> float:
        return MARGIN + (scale_x(x) - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def py(y: float) -> float:
        return HEIGHT - MARGIN - y / y_hi * plot_h

    parts = [
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>',
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle">{x_label}</text>',
        f'<text x="12" y="{HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 12 {HEIGHT / 2})">{y_label}</text>',
        f'<text x="{MARGIN - 4}" y="{MARGIN + 4}" text-anchor="end">{y_hi:,.0f}</text>',
        f'<text x="{MARGIN - 4}" y="{HEIGHT - MARGIN}" text-anchor="end">0</text>',
    ]
    for x in sorted(set(xs)):
        parts.append(f'<text x="{px(x):.1f}" y="{HEIGHT - MARGIN + 14}" text-anchor="middle">{x:,.0f}</text>')
    for points, colour in zip(series.values(), COLOURS, strict=False):
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in points]
    for index, (name, _) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<text x="{MARGIN + 6}" y="{MARGIN + 14 * index + 4}" fill="{colour}">{name}</text>')
    return "\n".join(parts)


def svg(curve: CostCurve) -> str:
    """Three panels side by side: dispatch µs/event vs handlers, ingest requests/s and end-to-end events/s vs chats
    (log scale)."""
    dispatch = {"linqbot dispatch": [(float(p.handlers), p.median_us) for p in curve.dispatch]}
    names = [f.name for f in curve.ingest[0].result.figures]
    chats = {name: [(float(p.chats), p.result.figure(name).rps) for p in curve.ingest] for name in names}
    through = {
        bot.split(" (")[0]: [(float(p.chats), p.median(bot)) for p in curve.end_to_end] for bot in END_TO_END_BOTS
    }
    panels = [
        _panel("Dispatch vs handlers", "handlers", "µs/event", dispatch, log_x=False),
        _panel("Ingest vs active chats", "chats (log)", "requests/s", chats, log_x=True),
        _panel("End to end vs chats", "chats (log)", "events/s", through, log_x=True),
    ]
    groups = "\n".join(f'<g transform="translate({index * WIDTH} 0)">{panel}</g>' for index, panel in enumerate(panels))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(panels) * WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
        f"{groups}\n</svg>\n"
    )


def write_plot(curve: CostCurve, path: Path = PLOT_PATH) -> None:
    path.write_text(svg(curve))
