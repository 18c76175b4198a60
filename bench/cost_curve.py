"""(f) The cost curve: dispatch time against the number of handlers, ingest throughput against active chats.

Dispatch: a root router with N message handlers of which only the last matches (the worst case: every filter runs),
fed by the core `Dispatcher`, interleaved across N, medians. Ingest: `bench.ingest` against the linqbot servers with
the deliveries spread over K chats. The plot is a small hand-written SVG (no plotting library needed).
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

from bench import ingest
from bench.scenario import linq_payloads
from linqbot import Bot
from linqbot.dispatch import Context, Dispatcher, Router
from linqbot.events import Event, parse_event

HANDLER_COUNTS = (1, 10, 50, 100, 200)
CHAT_COUNTS = (1, 100, 10_000)
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
class CostCurve:
    dispatch: list[DispatchPoint]
    ingest: list[ChatPoint]
    events: int
    rounds: int


def measure(
    handler_counts: tuple[int, ...] = HANDLER_COUNTS,
    chat_counts: tuple[int, ...] = CHAT_COUNTS,
    rounds: int = 5,
    events: int = 1000,
    requests: int = 2000,
) -> CostCurve:
    dispatch = asyncio.run(dispatch_curve(handler_counts, rounds, events))
    configurations = (ingest.LINQBOT_SQLITE, ingest.LINQBOT_MEMORY)
    chats = [
        ChatPoint(k, ingest.measure(rounds=rounds, requests=requests, chats=k, configurations=configurations))
        for k in chat_counts
    ]
    return CostCurve(dispatch, chats, events, rounds)


def all_handled(curve: CostCurve) -> bool:
    """Every dispatched event reached the last handler and no other; every ingested event was handled once."""
    dispatched = (curve.rounds + 1) * curve.events
    routed = all(p.hits == [dispatched, 0] for p in curve.dispatch)
    ingested = all(f.handled == f.sent and f.misrouted == 0 for p in curve.ingest for f in p.result.figures)
    return routed and ingested


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
    lines += ["", f"- every event routed to its handler exactly once: {'yes' if all_handled(curve) else '**no**'}"]
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
    """Two panels side by side: dispatch µs/event vs handlers, ingest requests/s vs chats (log scale)."""
    dispatch = {"linqbot dispatch": [(float(p.handlers), p.median_us) for p in curve.dispatch]}
    names = [f.name for f in curve.ingest[0].result.figures]
    chats = {name: [(float(p.chats), p.result.figure(name).rps) for p in curve.ingest] for name in names}
    left = _panel("Dispatch vs handlers", "handlers", "µs/event", dispatch, log_x=False)
    right = _panel("Ingest vs active chats", "chats (log)", "requests/s", chats, log_x=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
        f'<g>{left}</g>\n<g transform="translate({WIDTH} 0)">{right}</g>\n</svg>\n'
    )


def write_plot(curve: CostCurve, path: Path = PLOT_PATH) -> None:
    path.write_text(svg(curve))
