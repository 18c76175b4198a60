"""(e) Scheduled messages: do thousands of them fire on time while pacing holds every pair to its limit?

The emulator runs in a process of its own and notes, for every send it receives, the wall-clock moment, the
recipient and its answer. The bot (this process) runs the scheduler plugin on a SQLite job store with pacing on and
the other safeguards that would refuse a mass send (non-responders, health, flood, loop breaker, typing) off;
opt-out stays on. The daily budgets are off too: this volume from one line is far above Linq's daily recommendation.

Most recipients get a few messages, well under the pair limit, and must get them within a second of their time. A
few "hot" recipients get more than the limit allows within one window: pacing must hold their extra messages back
(late by design, reported apart) and no pair may ever exceed the limit, which the emulator would answer with 429.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.loopback import ServerProcess, Stats, percentile
from linqbot import Bot
from linqbot.emulator import Emulator
from linqbot.middleware import Pacing, Safeguards

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ON_TIME_S = 1.0


SENDS_PATH = "/_bench/sends"
POLL_S = 0.25
"""How often the bench asks the emulator how many messages arrived: every answer costs the emulator's one core."""


async def emulator_app(pair_limit: int, pair_window: float) -> tuple[web.Application, Stats]:
    """The emulator's app plus a recorder of every chat-creating send: (idempotency key, time, status, message id).

    The stats stay a few numbers (they are polled during the run); the full record is fetched once, at the end.
    """
    emulator = Emulator(pair_limit=pair_limit, pair_window=pair_window, read_delay=0)
    sends: list[tuple[str, float, int, str]] = []
    delivered: set[str] = set()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/api/partner/v3/chats":
            return await handler(request)
        at = time.time()
        key = json.loads(await request.read())["message"].get("idempotency_key") or ""
        response = await handler(request)
        message_id = ""
        if response.status == 200 and isinstance(response, web.Response) and isinstance(response.body, bytes):
            message_id = json.loads(response.body)["chat"]["message"]["id"]
            delivered.add(key)
        sends.append((key, at, response.status, message_id))
        return response

    async def all_sends(_: web.Request) -> web.Response:
        return web.json_response(sends)

    emulator.app.middlewares.insert(0, record)
    emulator.app.router.add_get(SENDS_PATH, all_sends)

    def stats() -> dict[str, Any]:
        return {"handled": len(delivered), "misrouted": 0, "requests": len(sends)}

    return emulator.app, stats


@dataclass(frozen=True)
class Plan:
    """Which message goes to whom, when; ``hot`` recipients get more than the pair limit within one window."""

    messages: int
    recipients: int
    hot: int
    per_pair: int
    pair_window: float
    spread_s: float

    def recipient(self, n: int) -> str:
        return f"+1555{5000000 + n:07d}"

    def hot_recipients(self) -> list[str]:
        return [f"+1555{6000000 + n:07d}" for n in range(self.hot)]

    @property
    def hot_messages(self) -> int:
        """Per hot recipient: the limit plus a third more."""
        return self.per_pair + max(1, self.per_pair // 3)


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds each process spent sending: the bot's from the end of scheduling, the emulator's from before it
    (it has nothing to do meanwhile), until the last message arrived."""

    bot_s: float
    emulator_s: float


@dataclass
class SchedulerResult:
    plan: Plan
    scheduling_s: float
    lateness_s: list[float] = field(default_factory=list)
    """Messages pacing had no reason to hold: sent time minus scheduled time."""
    held_lateness_s: list[float] = field(default_factory=list)
    """Hot recipients' messages beyond the limit: held by pacing, as the rule requires."""
    fired: int = 0
    expected: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    worst_pair: int = 0
    """The most sends any pair received within one pair window."""
    cpu: CpuSplit | None = None

    @property
    def all_fired(self) -> bool:
        return self.fired == self.expected and self.duplicates == 0

    @property
    def pacing_held(self) -> bool:
        return self.worst_pair <= self.plan.per_pair and self.rate_limited == 0


def _bot(emulator_url: str, plan: Plan, workdir: Path) -> Bot:
    from linqbot_scheduler import scheduler_of

    others = [f"-{ep.name}" for ep in entry_points(group="linqbot") if ep.name != "scheduler"]
    pacing = Pacing(per_pair=plan.per_pair, pair_window=plan.pair_window, daily_budget=None, new_chats_per_day=None)
    safeguards = Safeguards(pacing=pacing, typing=None, health=None, non_responders=None, flood=None, loop_breaker=None)
    bot = Bot(
        api_key="dev-key",
        base_url=emulator_url + "/api/partner",
        webhook_secret="bench-secret",
        phone_number="+15550000001",
        env_file=None,
        plugins=others or None,
        safeguards=safeguards,
        name="bench-scheduler",
    )
    scheduler_of(bot).configure(url=f"sqlite:///{workdir / 'jobs.sqlite3'}")
    return bot


async def measure_async(
    messages: int = 10_000,
    recipients: int = 1_000,
    hot: int = 2,
    per_pair: int = 30,
    pair_window: float = 60.0,
    rate: float = 50.0,
) -> SchedulerResult:
    """Schedule ``messages`` messages (plus the hot recipients') spread at ``rate``/s, then wait for every send."""
    from linqbot_scheduler import scheduler_of

    plan = Plan(messages, recipients, hot, per_pair, pair_window, messages / rate)
    server = ServerProcess(functools.partial(emulator_app, per_pair, pair_window))
    await asyncio.to_thread(server.wait_ready)
    with tempfile.TemporaryDirectory(prefix="linqbot-bench-") as workdir:
        bot = _bot(server.url, plan, Path(workdir))
        try:
            await bot.startup()
            scheduler = scheduler_of(bot)
            due: dict[str, tuple[str, float]] = {}  # job id -> recipient, scheduled time
            jobs = [(plan.recipient(n % recipients), n / rate) for n in range(messages)]
            for person in plan.hot_recipients():
                burst = min(plan.spread_s, pair_window / 2)  # more than the limit within one window
                jobs += [(person, k * burst / plan.hot_messages) for k in range(plan.hot_messages)]
            jobs.sort(key=lambda job: job[1])
            lead = 2.0 + len(jobs) * 0.002  # adding a job to the SQLite store costs about a millisecond
            start = time.time() + lead
            async with aiohttp.ClientSession() as session:  # nothing is sent while scheduling: the emulator idles
                emulator_cpu_s = (await server.stats(session))["cpu_s"]
            began = time.perf_counter()
            for n, (person, offset) in enumerate(jobs):
                job_id = f"bench-{n}"
                at = datetime.fromtimestamp(start + offset, UTC)
                await scheduler.schedule_message(to=person, text=f"reminder {n}", at=at, id=job_id)
                due[f"scheduled:{job_id}"] = (person, start + offset)
            scheduling_s = time.perf_counter() - began
            bot_cpu_s = time.process_time()
            timeout = lead + plan.spread_s + 2 * pair_window + 30
            async with aiohttp.ClientSession() as session:
                for _ in range(int(timeout / POLL_S)):  # then the report counts whatever never fired
                    if (stats := await server.stats(session))["handled"] >= len(jobs):
                        break
                    await asyncio.sleep(POLL_S)
                cpu = CpuSplit(time.process_time() - bot_cpu_s, stats["cpu_s"] - emulator_cpu_s)
                async with session.get(server.url + SENDS_PATH) as response:
                    sends = await response.json()
        finally:
            await bot.shutdown()
            server.stop()
    result = _analyse(plan, scheduling_s, due, sends)
    result.cpu = cpu
    return result


def _analyse(
    plan: Plan, scheduling_s: float, due: dict[str, tuple[str, float]], sends: list[list[Any]]
) -> SchedulerResult:
    """A retried send under the same key that Linq answers with the message it already has is no duplicate; a key
    that produced a second message is."""
    result = SchedulerResult(plan, scheduling_s, expected=len(due))
    messages: dict[str, set[str]] = {}
    by_person: dict[str, list[tuple[float, str]]] = {}
    for key, at, status, message_id in sends:
        if status == 429:
            result.rate_limited += 1
        if status != 200:
            continue
        if key not in messages:
            by_person.setdefault(due[key][0], []).append((at, key))
        messages.setdefault(key, set()).add(message_id)
    result.duplicates = sum(len(ids) - 1 for ids in messages.values())
    hot = set(plan.hot_recipients())
    for person, received in by_person.items():
        received.sort()
        times = [at for at, _ in received]
        result.worst_pair = max(
            result.worst_pair,
            max(bisect.bisect_left(times, t + plan.pair_window) - i for i, t in enumerate(times)),
        )
        for index, (at, key) in enumerate(received):
            late = at - due[key][1]
            (result.held_lateness_s if person in hot and index >= plan.per_pair else result.lateness_s).append(late)
    result.fired = len(messages)
    return result


def measure(**options: Any) -> SchedulerResult:
    return asyncio.run(measure_async(**options))


def render(result: SchedulerResult) -> str:
    plan, late = result.plan, result.lateness_s
    on_time = sum(1 for x in late if x <= ON_TIME_S)
    lines = [
        f"{plan.messages:,} messages to {plan.recipients:,} recipients spread over {plan.spread_s:.0f} s, plus "
        f"{plan.hot} hot recipient(s) with {plan.hot_messages} messages each in that time; pacing "
        f"{plan.per_pair}/{plan.pair_window:.0f} s per pair (the emulator enforces the same limit with 429). "
        f"Scheduling them took {result.scheduling_s:.1f} s. Lateness = the emulator's receipt minus the scheduled "
        "time (wall clock).",
        "",
        "| messages | lateness p50 s | p99 s | max s | within 1 s |",
        "|---|---:|---:|---:|---:|",
        f"| not held by pacing ({len(late):,}) | {percentile(late, 0.5):.3f} | {percentile(late, 0.99):.3f} "
        f"| {max(late):.3f} | {on_time / len(late):.1%} |",
    ]
    if result.held_lateness_s:
        held = result.held_lateness_s
        lines.append(
            f"| held by pacing, hot recipients beyond the limit ({len(held)}) | {percentile(held, 0.5):.3f} "
            f"| {percentile(held, 0.99):.3f} | {max(held):.3f} | {sum(1 for x in held if x <= ON_TIME_S)} |"
        )
    lines += [
        "",
        f"- every scheduled message fired exactly once: {'yes' if result.all_fired else '**no**'} "
        f"({result.fired:,} of {result.expected:,}, {result.duplicates} duplicates)",
        f"- no pair exceeded {plan.per_pair}/{plan.pair_window:.0f} s: {'yes' if result.pacing_held else '**no**'} "
        f"(most sends to one pair within a window: {result.worst_pair}; 429s: {result.rate_limited})",
        f"- target: every message not held by pacing within {ON_TIME_S:.0f} s: "
        + ("met" if on_time == len(late) else f"**not met** ({len(late) - on_time} later)"),
    ]
    if result.cpu is not None and result.fired:
        lines.append(
            f"- CPU per message sent, from the first due message to the last: bot process "
            f"{1000 * result.cpu.bot_s / result.fired:.1f} ms (scheduler, pacing, HTTP client), emulator "
            f"{1000 * result.cpu.emulator_s / result.fired:.1f} ms; each process has at most one core"
        )
    return "\n".join(lines)
