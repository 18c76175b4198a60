"""(b) Webhook ingest over loopback: linqbot's edge vs a bare aiohttp handler (the floor) and aiogram's webhook server.

linqbot answers after the signature check, the dedup and the durable inbox insert (SQLite, the default of
``linqbot run``, and memory); its handlers (the dispatch scenario of `bench.scenario`) run after the 200. aiogram's
``SimpleRequestHandler`` answers after parsing and starts the same 20 handlers in the background (its default): it
checks only Telegram's secret-token header and persists nothing. Every request is distinct and validly signed, and
sent exactly once by wrk (`bench.loopback.LoadGenerator`; a Python client would cap every server at its own ~2,000
requests/s); every round waits until each server has handled every event, and checks it handled each exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.loopback import Delivery, Load, LoadGenerator, ServerProcess, Stats, start_all
from bench.scenario import (
    Runner,
    aiogram_best_runner,
    aiogram_common_runner,
    linq_payloads,
    linqbot_runner,
    telegram_payloads,
)
from linqbot import Bot
from linqbot.inbox import Inbox, store_from_url
from linqbot.middleware import Safeguards
from linqbot.webhook.signature import sign_standard

SECRET = "whsec_" + "YmVuY2htYXJrLXNpZ25pbmctc2VjcmV0LTMyYnl0ZXM="
TELEGRAM_TOKEN = "bench-secret-token"
FLOOR = "bare aiohttp handler (floor)"
LINQBOT_SQLITE = "linqbot, SQLite inbox"
LINQBOT_MEMORY = "linqbot, memory inbox"
AIOGRAM_BEST = "aiogram (best: async filters)"
AIOGRAM_COMMON = "aiogram (common: magic F filters)"
CONFIGURATIONS = (FLOOR, LINQBOT_SQLITE, LINQBOT_MEMORY, AIOGRAM_BEST, AIOGRAM_COMMON)


# -- servers (run in their own processes) ----------------------------------------------------------------------------


async def floor_app() -> tuple[web.Application, Stats]:
    """Reads the body and answers 200: what any Python webhook server costs at least."""
    seen = {"handled": 0}

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        seen["handled"] += 1
        return web.Response()

    app = web.Application()
    app.router.add_post("/webhook", receive)
    return app, lambda: {"handled": seen["handled"], "misrouted": 0}


def _counted(runner: Runner) -> Stats:
    return lambda: {"handled": runner.counters.handled, "misrouted": runner.counters.misrouted}


async def linqbot_app(inbox_url: str) -> tuple[web.Application, Stats]:
    """The bot's own webhook app; the inbox feeds the dispatch scenario's router (plugins and safeguards off)."""
    runner = linqbot_runner(0)
    bot = Bot(
        api_key="bench-key",
        base_url="http://127.0.0.1:9/api/partner",
        webhook_secret=SECRET,
        env_file=None,
        plugins=[f"-{ep.name}" for ep in entry_points(group="linqbot")] or None,
        safeguards=Safeguards.off(),
    )
    bot.inbox = Inbox(runner.dispatch)
    bot.inbox.use(store_from_url(inbox_url))
    return bot.app, _counted(runner)


async def aiogram_app(common: bool) -> tuple[web.Application, Stats]:
    """aiogram's webhook server around the dispatch scenario's Dispatcher (handlers run in the background)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    runner = aiogram_common_runner(0) if common else aiogram_best_runner(0)
    feed: Any = runner.dispatch  # functools.partial(dispatcher.feed_update, bot)
    dispatcher, bot = feed.func.__self__, feed.args[0]
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=TELEGRAM_TOKEN).register(app, path="/webhook")
    setup_application(app, dispatcher, bot=bot)
    return app, _counted(runner)


def server_factory(name: str, workdir: Path) -> Any:
    if name == FLOOR:
        return floor_app
    if name == LINQBOT_SQLITE:
        return functools.partial(linqbot_app, f"sqlite:///{workdir / 'inbox.db'}")
    if name == LINQBOT_MEMORY:
        return functools.partial(linqbot_app, "memory://")
    return functools.partial(aiogram_app, name == AIOGRAM_COMMON)


# -- deliveries ------------------------------------------------------------------------------------------------------


def linq_deliveries(prefix: str, count: int, chats: int = 1) -> list[Delivery]:
    """``count`` distinct ``message.received`` webhooks spread over ``chats`` chats, signed (Standard Webhooks)."""
    template = json.loads(linq_payloads(1)[0])
    now = int(time.time())
    deliveries = []
    for n in range(count):
        event_id = f"evt-{prefix}-{n}"
        data = {**template["data"], "id": f"msg-{prefix}-{n}", "chat": {**template["data"]["chat"]}}
        data["chat"]["id"] = f"chat-{n % chats:05d}"
        body = json.dumps({**template, "event_id": event_id, "data": data}).encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign_standard(SECRET, event_id, now, body),
        }
        deliveries.append(Delivery(body, headers))
    return deliveries


_update_ids = itertools.count(1)


def telegram_deliveries(count: int) -> list[Delivery]:
    """``count`` Telegram updates with update ids never sent before in this run."""
    template = json.loads(telegram_payloads(1)[0])
    headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_TOKEN}
    deliveries = []
    for _ in range(count):
        n = next(_update_ids)
        update = {**template, "update_id": n, "message": {**template["message"], "message_id": n}}
        deliveries.append(Delivery(json.dumps(update).encode(), headers))
    return deliveries


# -- measuring -------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    """One configuration's rounds."""

    name: str
    requests_per_second: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    server_cpu_us: list[float] = field(default_factory=list)
    """The server process's CPU time per request, background handling included."""
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    handled: int = 0
    misrouted: int = 0

    @property
    def rps(self) -> float:
        return statistics.median(self.requests_per_second)

    @property
    def p50(self) -> float:
        return statistics.median(self.p50_ms)

    @property
    def p99(self) -> float:
        return statistics.median(self.p99_ms)

    @property
    def cpu_us(self) -> float:
        return statistics.median(self.server_cpu_us)

    def record(self, load: Load, cpu_s: float) -> None:
        self.requests_per_second.append(load.requests_per_second)
        self.p50_ms.append(load.p50_ms)
        self.p99_ms.append(load.p99_ms)
        self.server_cpu_us.append(cpu_s * 1e6 / load.answered)


@dataclass
class IngestResult:
    rounds: int
    requests: int
    concurrency: int
    chats: int
    figures: list[Figures]

    def figure(self, name: str) -> Figures:
        return next(f for f in self.figures if f.name == name)


def _deliveries(name: str, prefix: str, count: int, chats: int) -> list[Delivery]:
    return telegram_deliveries(count) if name.startswith("aiogram") else linq_deliveries(prefix, count, chats)


async def _round(
    server: ServerProcess,
    figures: Figures,
    load_generator: LoadGenerator,
    session: aiohttp.ClientSession,
    deliveries: list[Delivery],
    concurrency: int,
    record: bool,
) -> None:
    before = await server.stats(session)
    gc.collect()
    load = await load_generator.send(server.url + "/webhook", deliveries, concurrency)
    expected = before["handled"] + len(deliveries)
    try:
        after = await server.wait_until(session, lambda s: s["handled"] + s["misrouted"] >= expected)
    except TimeoutError:  # recorded as unhandled events: the report then says so
        after = await server.stats(session)
    for status, count in load.statuses.items():
        figures.statuses[status] = figures.statuses.get(status, 0) + count
    figures.sent += len(deliveries)
    figures.handled += after["handled"] - before["handled"]
    figures.misrouted += after["misrouted"] - before["misrouted"]
    if record:
        figures.record(load, after["cpu_s"] - before["cpu_s"])


async def measure_async(
    rounds: int = 7,
    requests: int = 2000,
    concurrency: int = 32,
    chats: int = 1,
    configurations: tuple[str, ...] = CONFIGURATIONS,
    warmup: int = 1,
) -> IngestResult:
    """Start every server and one load generator, then interleave rounds (order rotating), medians of the rounds."""
    figures = [Figures(name) for name in configurations]
    load_generator = LoadGenerator()  # fails first (and clearly) when wrk is missing
    with tempfile.TemporaryDirectory(prefix="linqbot-bench-") as workdir:
        servers = start_all([server_factory(name, Path(workdir)) for name in configurations])
        try:
            async with aiohttp.ClientSession() as session:
                for round_index in range(warmup + rounds):
                    shift = round_index % len(servers)
                    for index in [*range(shift, len(servers)), *range(shift)]:
                        name = configurations[index]
                        deliveries = _deliveries(name, f"r{round_index}", requests, chats)
                        await _round(
                            servers[index],
                            figures[index],
                            load_generator,
                            session,
                            deliveries,
                            concurrency,
                            record=round_index >= warmup,
                        )
        finally:
            for server in servers:
                server.stop()
    return IngestResult(rounds, requests, concurrency, chats, figures)


def measure(**options: Any) -> IngestResult:
    return asyncio.run(measure_async(**options))


# -- report ----------------------------------------------------------------------------------------------------------

FLOOR_SHARE_TARGET = 0.5
AIOGRAM_SPEEDUP_TARGET = 2.0


def render(result: IngestResult) -> str:
    floor = result.figure(FLOOR)
    best = result.figure(AIOGRAM_BEST)
    lines = [
        f"{result.rounds} interleaved rounds × {result.requests} distinct signed requests per configuration, "
        f"{result.concurrency} concurrent connections, {result.chats} chat(s); load generator and each server in "
        "processes of their own; medians of the rounds.",
        "",
        "| configuration | requests/s | p50 ms | p99 ms | server CPU µs/request | vs floor | vs aiogram best |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in result.figures:
        lines.append(
            f"| {f.name} | {f.rps:,.0f} | {f.p50:.2f} | {f.p99:.2f} | {f.cpu_us:.0f} "
            f"| {f.rps / floor.rps:.0%} | {f.rps / best.rps:.2f}× |"
        )
    lines.append("")
    for name in (LINQBOT_SQLITE, LINQBOT_MEMORY):
        f = result.figure(name)
        share, speedup = f.rps / floor.rps, f.rps / best.rps
        lines.append(
            f"- {name}: ≥ {FLOOR_SHARE_TARGET:.0%} of the floor: {_verdict(share >= FLOOR_SHARE_TARGET)} "
            f"({share:.0%}); ≥ {AIOGRAM_SPEEDUP_TARGET:.0f}× aiogram best: "
            f"{_verdict(speedup >= AIOGRAM_SPEEDUP_TARGET)} ({speedup:.2f}×)"
        )
    answered = all(f.statuses == {200: f.sent} for f in result.figures)
    once = all(f.handled == f.sent and f.misrouted == 0 for f in result.figures)
    lines.append(
        f"- every request answered 200: {'yes' if answered else '**no**'}; every event handled exactly once "
        f"(warm-up included): {'yes' if once else '**no**'}"
    )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"
