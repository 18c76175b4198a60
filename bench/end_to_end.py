"""(c) End to end with the emulator: a person writes, the emulator POSTs the webhook, the bot replies.

The emulator (and the driver offering the load) runs in this process, each bot in a process of its own, so the two
never share an event loop. Timestamps come from the system-wide monotonic clock on both sides. In the bot process:
when each webhook request reaches its app (before the signature check) and when its reply request is handed to the
HTTP client's transport (an httpx request hook: after the outbound middleware, pacing and the SDK's request building,
before the bytes go out). "Framework-added" is the difference: everything the bot spent on the event, none of the
emulator's own work and no time waiting for the emulator's event loop. In this process: when the reply request
reaches the emulator's app ("reply at the emulator", which adds the loopback trip and the emulator's queueing) and
when the person sent the message ("person-seen"). Each reply names its event, so every event is checked to be
answered exactly once.

A third bot, a bare aiohttp app that answers the same webhook with one aiohttp POST and nothing else, is the floor:
what the emulator, the loopback and the load cost without any framework.

The load is spread over many simulated people, because pacing deliberately slows a single pair.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from linq import AsyncLinqAPIV3

from bench.loopback import ServerProcess, Stats, percentile, start_all
from linqbot import Bot, Context
from linqbot.emulator import Emulator
from linqbot.middleware import Pacing, Safeguards

FLOOR = "bare aiohttp echo (floor: no framework)"
CORE = "core (safeguards and plugins off)"
DEFAULT_BOT = "default Bot() (safeguards and plugins on; daily budgets off)"
PROFILES = (FLOOR, CORE, DEFAULT_BOT)
REPLY_PREFIX = "re:"
_REPLY = re.compile(rb"re:([A-Za-z0-9_-]+)")
_REPLY_PATH = re.compile(r"^/api/partner/v3/chats/[^/]+/messages$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- the bots (each in its own process) ------------------------------------------------------------------------------


@dataclass
class BotSide:
    """What a bot process saw: per event, when its webhook arrived and when its reply left (ns); CPU per event."""

    arrived: dict[str, int] = field(default_factory=dict)
    replied: dict[str, int] = field(default_factory=dict)
    handled: Counter[str] = field(default_factory=Counter)

    @web.middleware
    async def arrival(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.arrived.setdefault(request.headers.get("webhook-id", ""), time.perf_counter_ns())
        return await handler(request)

    def reply_leaving(self, body: bytes) -> None:
        found = _REPLY.search(body)
        if found is not None:
            self.replied.setdefault(found.group(1).decode(), time.perf_counter_ns())

    def stats(self) -> dict[str, Any]:
        return {
            "handled": sum(self.handled.values()),
            "misrouted": sum(n - 1 for n in self.handled.values()),
            "arrived": self.arrived,
            "replied": self.replied,
        }


async def bot_app(profile: str, base_url: str, api_key: str, secret: str, line: str) -> tuple[web.Application, Stats]:
    """An echo bot that names the event it answers."""
    if profile == FLOOR:
        return await floor_app(base_url, api_key)
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
    side = BotSide()

    async def leaving(request: httpx.Request) -> None:
        side.reply_leaving(request.content)

    bot.client.http.event_hooks["request"].append(leaving)

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        side.handled[ctx.event.event_id] += 1
        await ctx.reply(REPLY_PREFIX + ctx.event.event_id)

    app = bot.app
    app.middlewares.insert(0, side.arrival)
    return app, side.stats


async def floor_app(base_url: str, api_key: str) -> tuple[web.Application, Stats]:
    """Answer 200 at once, then POST the reply with aiohttp: no signature check, inbox, dispatch or SDK."""
    side = BotSide()
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {api_key}"})
    tasks: set[asyncio.Task[None]] = set()

    async def reply(event: dict[str, Any]) -> None:
        event_id = event["event_id"]
        body = json.dumps({"message": {"parts": [{"type": "text", "value": REPLY_PREFIX + event_id}]}}).encode()
        side.reply_leaving(body)
        url = f"{base_url.rstrip('/')}/v3/chats/{event['data']['chat']['id']}/messages"
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            await response.read()
        side.handled[event_id] += 1

    async def webhook(request: web.Request) -> web.Response:
        task = asyncio.get_running_loop().create_task(reply(await request.json()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.Response()

    async def close(_: web.Application) -> None:
        await session.close()

    app = web.Application(middlewares=[side.arrival])
    app.router.add_post("/webhook", webhook)
    app.on_cleanup.append(close)
    return app, side.stats


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
    replied: dict[str, int]
    handled: int
    duplicates: int
    statuses: dict[int, int]
    wall_s: float
    bot_cpu_s: float
    emulator_cpu_s: float
    """This process's CPU time for the batch: the emulator and the driver offering the load."""

    @property
    def exactly_once(self) -> bool:
        answered = all(len(self.replies.get(e, ())) == 1 for e in self.inbound_at)
        return answered and self.handled == self.events and self.duplicates == 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_s

    def framework_ms(self) -> list[float]:
        """Webhook at the bot's app -> reply handed to the bot's HTTP transport, both stamped in the bot."""
        return [(self.replied[e] - self.arrived[e]) / 1e6 for e in self.inbound_at if e in self.replied]

    def at_emulator_ms(self) -> list[float]:
        """Webhook at the bot's app -> reply at the emulator's app."""
        return [(self.replies[e][0] - self.arrived[e]) / 1e6 for e in self.inbound_at if self.replies.get(e)]

    def person_ms(self) -> list[float]:
        return [(self.replies[e][0] - t) / 1e6 for e, t in self.inbound_at.items() if self.replies.get(e)]


def people(count: int) -> list[str]:
    return [f"+1555{2000000 + n:07d}" for n in range(count)]


class Bench:
    """The emulator, the subscription and one bot process per profile; `run` sends one batch through one bot."""

    def __init__(self, profiles: tuple[str, ...], persons: int, **emulator_options: Any) -> None:
        self.profiles = profiles
        self.people = people(persons)
        self.replies = Replies()
        self.emulator = Emulator(read_delay=0, **emulator_options)
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

    async def run(self, profile: str, events: int, rate: float | None, stall_timeout: float = 60.0) -> Run:
        """Send ``events`` inbound messages at ``rate`` per second (None: all at once) and wait for every reply
        (giving up when none arrives for ``stall_timeout`` seconds)."""
        server = self.bots[profile]
        await self.sdk.webhook_subscriptions.update(self.subscription.id, target_url=server.url + "/webhook")
        await self.emulator.settle()  # the previous batch's delivery receipts must not run inside this one
        before = await server.stats(self.session)
        cpu_before = time.process_time()
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
        while (answered := self.replies.count - replied_before) < events:  # fails only when replies stop coming
            await self.emulator.wait_for(lambda: self.replies.count - replied_before > answered, stall_timeout)
        wall_s = (time.perf_counter_ns() - began) / 1e9
        emulator_cpu_s = time.process_time() - cpu_before
        after = await server.wait_until(self.session, lambda s: s["handled"] - before["handled"] >= events)
        return Run(
            events=events,
            inbound_at=inbound_at,
            replies={e: self.replies.at.get(e, []) for e in inbound_at},
            arrived={e: after["arrived"][e] for e in inbound_at if e in after["arrived"]},
            replied={e: after["replied"][e] for e in inbound_at if e in after["replied"]},
            handled=after["handled"] - before["handled"],
            duplicates=after["misrouted"] - before["misrouted"],
            statuses=dict(self.replies.statuses),
            wall_s=wall_s,
            bot_cpu_s=after["cpu_s"] - before["cpu_s"],
            emulator_cpu_s=emulator_cpu_s,
        )


# -- measuring -------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    events_per_second: list[float] = field(default_factory=list)
    framework_ms: list[float] = field(default_factory=list)
    """Framework-added latency of every event at the fixed offered load, all rounds pooled."""
    at_emulator_ms: list[float] = field(default_factory=list)
    person_ms: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    """The bot process's CPU time per event at the fixed offered load, per round."""
    emulator_cpu_us: list[float] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return statistics.median(self.events_per_second)

    def framework(self, q: float) -> float:
        return percentile(self.framework_ms, q)

    def at_emulator(self, q: float) -> float:
        return percentile(self.at_emulator_ms, q)

    def person(self, q: float) -> float:
        return percentile(self.person_ms, q)

    @property
    def exactly_once(self) -> bool:
        return all(run.exactly_once for run in self.runs)

    def cores_at(self, rate: float) -> tuple[float, float]:
        """Cores the bot and the emulator (with the driver) keep busy at ``rate`` events/s, from median CPU/event:
        whether a rate is reachable at all on this machine, whatever the latency."""
        return statistics.median(self.cpu_us) * rate / 1e6, statistics.median(self.emulator_cpu_us) * rate / 1e6

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
    rounds: int = 3,
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
                figure.at_emulator_ms += paced.at_emulator_ms()
                figure.person_ms += paced.person_ms()
                figure.cpu_us.append(paced.bot_cpu_s / paced.events * 1e6)
                figure.emulator_cpu_us.append(paced.emulator_cpu_s / paced.events * 1e6)
    return EndToEndResult(rounds, burst, rate, paced_events, persons, figures)


def measure(**options: Any) -> EndToEndResult:
    return asyncio.run(measure_async(**options))


# -- report ----------------------------------------------------------------------------------------------------------

P99_TARGET_MS = 10.0


def render(result: EndToEndResult) -> str:
    lines = [
        f"{result.rounds} rounds per bot, interleaved; each round a burst of {result.burst} inbound messages "
        f"(throughput: first inbound to last reply) and {result.paced_events} at a fixed {result.rate:.0f}/s "
        f"(latency), spread over {result.persons} simulated people. The bot subscribes to `message.received` only. "
        "Framework-added: webhook at the bot's app → reply request handed to its HTTP transport, both stamped in the "
        "bot's process. Reply at the emulator: the same start → the reply request at the emulator's app. "
        "Person-seen: the person's send → the reply at the emulator. CPU per event at the fixed load: the bot's "
        "process, and the emulator's (with the driver offering the load).",
        "",
        "| bot | events/s (burst) | framework-added p50 ms | p99 ms | max ms | reply at emulator p50 ms | p99 ms "
        "| person-seen p50 ms | p99 ms | bot CPU µs/event | emulator CPU µs/event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in result.figures:
        lines.append(
            f"| {f.name} | {f.throughput:,.0f} | {f.framework(0.5):.2f} | {f.framework(0.99):.2f} "
            f"| {max(f.framework_ms):.2f} | {f.at_emulator(0.5):.2f} | {f.at_emulator(0.99):.2f} "
            f"| {f.person(0.5):.2f} | {f.person(0.99):.2f} | {statistics.median(f.cpu_us):,.0f} "
            f"| {statistics.median(f.emulator_cpu_us):,.0f} |"
        )
    lines.append("")
    for f in result.figures:
        bot_cores, emulator_cores = f.cores_at(result.rate)
        lines.append(
            f"- {f.name}: CPU needed at {result.rate:.0f}/s: bot {bot_cores:.2f} + emulator and driver "
            f"{emulator_cores:.2f} = {bot_cores + emulator_cores:.2f} cores (this machine: {os.cpu_count()})"
        )
    for f in result.figures:
        if f.name == FLOOR:
            continue
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
