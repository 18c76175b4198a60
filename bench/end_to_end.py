"""(c) End to end with the emulator: a person writes, the emulator POSTs the webhook, the bot replies.

The emulator (and the driver offering the load) runs in this process, the bot in a process of its own. Timestamps
are taken on both sides with the system-wide monotonic clock: the bot notes when each webhook request reaches its
app (before the signature check), the emulator when the reply request reaches its app (before its own handling).
"Framework-added" is the difference: everything the bot spent, plus the reply's trip over loopback, and none of the
emulator's own work (building, signing and queueing the webhook). Each reply names its event, so every event is
checked to be answered exactly once.

The load is spread over many simulated people, because pacing deliberately slows a single pair.
"""

from __future__ import annotations

import asyncio
import functools
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import aiohttp
from aiohttp import web
from linq import AsyncLinqAPIV3

from bench.loopback import ServerProcess, Stats, percentile, start_all
from linqbot import Bot, Context
from linqbot.emulator import Emulator
from linqbot.middleware import Pacing, Safeguards

CORE = "core (safeguards and plugins off)"
DEFAULT_BOT = "default Bot() (safeguards and plugins on; daily budgets off)"
PROFILES = (CORE, DEFAULT_BOT)
REPLY_PREFIX = "re:"
_REPLY = re.compile(rb"re:([A-Za-z0-9_-]+)")
_REPLY_PATH = re.compile(r"^/api/partner/v3/chats/[^/]+/messages$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- the bot (its own process) ---------------------------------------------------------------------------------------


async def bot_app(profile: str, base_url: str, api_key: str, secret: str, line: str) -> tuple[web.Application, Stats]:
    """An echo bot that names the event it answers; records when each webhook request arrived."""
    if profile == CORE:
        plugins: list[str] | None = [f"-{ep.name}" for ep in entry_points(group="linqbot")] or None
        safeguards = Safeguards.off()
    else:  # the daily budgets would refuse a benchmark's volume after 7,000 messages
        plugins, safeguards = None, Safeguards(pacing=Pacing(daily_budget=None, new_chats_per_day=None))
    bot = Bot(
        api_key=api_key,
        base_url=base_url,
        webhook_secret=secret,
        phone_number=line,
        env_file=None,
        plugins=plugins,
        safeguards=safeguards,
    )
    arrived: dict[str, int] = {}
    handled = Counter[str]()

    @web.middleware
    async def arrival(request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived.setdefault(request.headers.get("webhook-id", ""), time.perf_counter_ns())
        return await handler(request)

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        handled[ctx.event.event_id] += 1
        await ctx.reply(REPLY_PREFIX + ctx.event.event_id)

    app = bot.app
    app.middlewares.insert(0, arrival)
    return app, lambda: {
        "handled": sum(handled.values()),
        "misrouted": sum(n - 1 for n in handled.values()),
        "arrived": arrived,
    }


# -- the emulator side -----------------------------------------------------------------------------------------------


@dataclass
class Replies:
    """Reply requests as the emulator saw them: event id -> arrival times (ns) and response statuses."""

    at: dict[str, list[int]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    count: int = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or not _REPLY_PATH.match(request.path):
            return await handler(request)
        now = time.perf_counter_ns()
        found = _REPLY.search(await request.read())
        response = await handler(request)
        self.statuses[response.status] += 1
        if found is not None:
            self.at.setdefault(found.group(1).decode(), []).append(now)
            self.count += 1
        return response


@dataclass
class Run:
    """One batch of events through one bot."""

    events: int
    inbound_at: dict[str, int]
    replies: dict[str, list[int]]
    arrived: dict[str, int]
    handled: int
    duplicates: int
    statuses: dict[int, int]
    wall_s: float

    @property
    def exactly_once(self) -> bool:
        answered = all(len(self.replies.get(e, ())) == 1 for e in self.inbound_at)
        return answered and self.handled == self.events and self.duplicates == 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_s

    def framework_ms(self) -> list[float]:
        return [(self.replies[e][0] - self.arrived[e]) / 1e6 for e in self.inbound_at if e in self.replies]

    def person_ms(self) -> list[float]:
        return [(self.replies[e][0] - t) / 1e6 for e, t in self.inbound_at.items() if e in self.replies]


def people(count: int) -> list[str]:
    return [f"+1555{2000000 + n:07d}" for n in range(count)]


class Bench:
    """The emulator, the subscription and one bot process per profile; `run` sends one batch through one bot."""

    def __init__(self, profiles: tuple[str, ...], persons: int) -> None:
        self.profiles = profiles
        self.people = people(persons)
        self.replies = Replies()
        self.emulator = Emulator(read_delay=0)
        self.emulator.app.middlewares.insert(0, self.replies.middleware)
        self.bots: dict[str, ServerProcess] = {}
        self._next_person = 0
        self._chats: dict[str, str] = {}
        """Each person's chat, so the emulator need not search its chats for every message."""

    async def __aenter__(self) -> Bench:
        emu = self.emulator
        await emu.start()
        self.sdk = AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
        self.subscription = await self.sdk.webhook_subscriptions.create(
            target_url="http://127.0.0.1:9/unused", subscribed_events=["message.received"]
        )
        self.session = aiohttp.ClientSession()
        secret = self.subscription.signing_secret
        factories = [functools.partial(bot_app, p, emu.base_url, emu.api_key, secret, emu.line) for p in self.profiles]
        self.bots = dict(zip(self.profiles, await asyncio.to_thread(start_all, factories), strict=True))
        return self

    async def __aexit__(self, *_: object) -> None:
        for server in self.bots.values():
            server.stop()
        await self.session.close()
        await self.sdk.close()
        await self.emulator.stop()

    async def run(self, profile: str, events: int, rate: float | None, timeout: float = 120.0) -> Run:
        """Send ``events`` inbound messages at ``rate`` per second (None: all at once) and wait for every reply."""
        server = self.bots[profile]
        await self.sdk.webhook_subscriptions.update(self.subscription.id, target_url=server.url + "/webhook")
        before = await server.stats(self.session)
        self.replies.statuses.clear()
        replied_before = self.replies.count
        inbound_at: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        start = loop.time()
        began = time.perf_counter_ns()
        for n in range(events):
            if rate is not None and (delay := start + n / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            person = self.people[self._next_person % len(self.people)]
            self._next_person += 1
            sent = await self.emulator.inbound(person, f"hello {n}", chat_id=self._chats.get(person))
            self._chats[person] = sent["chat_id"]
            inbound_at[sent["event_ids"][-1]] = time.perf_counter_ns()
        await self.emulator.wait_for(lambda: self.replies.count - replied_before >= events, timeout)
        wall_s = (time.perf_counter_ns() - began) / 1e9
        after = await server.wait_until(self.session, lambda s: s["handled"] - before["handled"] >= events)
        return Run(
            events=events,
            inbound_at=inbound_at,
            replies={e: self.replies.at.get(e, []) for e in inbound_at},
            arrived={e: after["arrived"][e] for e in inbound_at if e in after["arrived"]},
            handled=after["handled"] - before["handled"],
            duplicates=after["misrouted"] - before["misrouted"],
            statuses=dict(self.replies.statuses),
            wall_s=wall_s,
        )


# -- measuring -------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    events_per_second: list[float] = field(default_factory=list)
    framework_ms: list[float] = field(default_factory=list)
    """Framework-added latency of every event at the fixed offered load, all rounds pooled."""
    person_ms: list[float] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return statistics.median(self.events_per_second)

    def framework(self, q: float) -> float:
        return percentile(self.framework_ms, q)

    def person(self, q: float) -> float:
        return percentile(self.person_ms, q)

    @property
    def exactly_once(self) -> bool:
        return all(run.exactly_once for run in self.runs)

    @property
    def all_accepted(self) -> bool:
        return all(set(run.statuses) <= {200} for run in self.runs)


@dataclass
class EndToEndResult:
    rounds: int
    burst: int
    rate: float
    paced_events: int
    persons: int
    figures: list[Figures]

    def figure(self, name: str) -> Figures:
        return next(f for f in self.figures if f.name == name)


async def measure_async(
    rounds: int = 5,
    burst: int = 1000,
    rate: float = 500.0,
    paced_events: int = 1500,
    persons: int = 1000,
    profiles: tuple[str, ...] = PROFILES,
) -> EndToEndResult:
    """Per round and profile (order rotating): a burst for throughput, then ``paced_events`` at ``rate``/s."""
    figures = [Figures(p) for p in profiles]
    async with Bench(profiles, persons) as bench:
        for index, profile in enumerate(profiles):  # warm-up: every person's chat, imports, connection pools
            await bench.run(profile, persons if index == 0 else min(burst, 100), None)
        for round_index in range(rounds):
            shift = round_index % len(profiles)
            for index in [*range(shift, len(profiles)), *range(shift)]:
                figure = figures[index]
                flood = await bench.run(figure.name, burst, None)
                paced = await bench.run(figure.name, paced_events, rate)
                figure.runs += [flood, paced]
                figure.events_per_second.append(flood.events_per_second)
                figure.framework_ms += paced.framework_ms()
                figure.person_ms += paced.person_ms()
    return EndToEndResult(rounds, burst, rate, paced_events, persons, figures)


def measure(**options: Any) -> EndToEndResult:
    return asyncio.run(measure_async(**options))


# -- report ----------------------------------------------------------------------------------------------------------

P99_TARGET_MS = 10.0


def render(result: EndToEndResult) -> str:
    lines = [
        f"{result.rounds} rounds per profile, interleaved; each round a burst of {result.burst} inbound messages "
        f"(throughput: first inbound to last reply) and {result.paced_events} at a fixed {result.rate:.0f}/s "
        f"(latency), spread over {result.persons} simulated people. The bot subscribes to `message.received` only.",
        "",
        "| bot | events/s (burst) | framework-added p50 ms | p99 ms | max ms | person-seen p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in result.figures:
        lines.append(
            f"| {f.name} | {f.throughput:,.0f} | {f.framework(0.5):.2f} | {f.framework(0.99):.2f} "
            f"| {max(f.framework_ms):.2f} | {f.person(0.5):.2f} | {f.person(0.99):.2f} |"
        )
    lines.append("")
    for f in result.figures:
        p99 = f.framework(0.99)
        verdict = "met" if p99 < P99_TARGET_MS else "**not met**"
        lines.append(f"- {f.name}: framework-added p99 < {P99_TARGET_MS:.0f} ms at {result.rate:.0f}/s: {verdict}")
    once = all(f.exactly_once for f in result.figures)
    accepted = all(f.all_accepted for f in result.figures)
    lines.append(
        f"- every event answered exactly once: {'yes' if once else '**no**'}; every reply accepted by the "
        f"emulator: {'yes' if accepted else '**no**'}"
    )
    return "\n".join(lines)
