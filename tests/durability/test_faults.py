"""Faults from the emulator's knobs (and a response-dropping proxy): people never miss a reply nor get two."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp
from aiohttp import web

from linqbot import Bot, Context, Safeguards
from linqbot.emulator import Emulator
from linqbot.inbox.status import STATUS_RANK
from linqbot.testing.simulation import ALL_EVENT_TYPES
from tests.durability.conftest import free_port, outbound_count, poll_until, serve_bot

PEOPLE = [f"+1444{n:07d}" for n in range(30)]


def echo_bot() -> Bot:
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands", safeguards=Safeguards.off())

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply(f"re: {ctx.text}")

    return bot


def reply_counts(emulator: Emulator) -> Counter[str]:
    return Counter(str(m["text"]) for m in emulator.messages(direction="outbound"))


class LossyProxy:
    """Forwards API calls to the emulator; for a fraction of sends it drops the response *after* the emulator
    acted — the client sees a broken connection, exactly like a timeout on a request that did go through."""

    def __init__(self, upstream: str, drop_rate: float, rng: random.Random) -> None:
        self.upstream = upstream
        self.drop_rate = drop_rate
        self.rng = rng
        self.dropped = 0
        self.port = free_port()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, f"{self.upstream}{request.path_qs}", data=await request.read(), headers=headers
        ) as upstream:
            body = await upstream.read()
            status, content_type = upstream.status, upstream.content_type
        if request.method == "POST" and request.path.endswith("/messages") and self.rng.random() < self.drop_rate:
            self.dropped += 1
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("response dropped on purpose")
        return web.Response(status=status, body=body, content_type=content_type)

    async def __aenter__(self) -> str:
        self._session: aiohttp.ClientSession | None = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
        assert self._session is not None
        await self._session.close()


async def send_all(emulator: Emulator, rounds: int) -> list[str]:
    texts = []
    for k in range(rounds):
        for person in PEOPLE:
            text = f"{person}-{k}"
            await emulator.inbound(person, text)
            texts.append(text)
    return texts


async def test_ten_percent_5xx_and_dropped_responses_on_sends(emulator: Emulator) -> None:
    emulator.set_faults(
        {"seed": 1, "rules": [{"method": "POST", "path": "/api/partner/v3/chats/*/messages", "error_rate": 0.1}]}
    )
    bot = echo_bot()
    lossy = LossyProxy(emulator.url, 0.1, random.Random(2))
    async with lossy as api, serve_bot(bot, emulator, api_base_url=f"{api}/api/partner"):
        texts = await send_all(emulator, 10)
        await poll_until(lambda: outbound_count(emulator) >= len(texts), 60, "every message is answered")
        await bot.inbox.drain(30)
        await emulator.settle()
    counts = reply_counts(emulator)
    stored = sum(1 for d in emulator.engine.state.messages.values() if d.direction == "outbound")
    print(
        f"\n10% 5xx + 10% dropped responses on sends: {len(texts)} messages, {lossy.dropped} responses dropped "
        f"after the send happened, {sum(counts.values())} replies ({stored} stored by the emulator)"
    )
    assert lossy.dropped > 10, "the proxy really dropped responses"
    assert counts == Counter(f"re: {t}" for t in texts)


async def test_429_storm_is_waited_out_without_losing_or_doubling(emulator: Emulator) -> None:
    emulator.set_faults({"seed": 3, "rate_limit_storm": 40, "storm_retry_after": 1})
    bot = echo_bot()
    async with serve_bot(bot, emulator):
        texts = await send_all(emulator, 2)
        await poll_until(lambda: outbound_count(emulator) >= len(texts), 60, "every message is answered")
        await bot.inbox.drain(30)
        await emulator.settle()
    assert emulator.engine.faults.storm_left == 0, "the storm really hit"
    assert reply_counts(emulator) == Counter(f"re: {t}" for t in texts)


async def test_duplicated_and_reordered_webhooks_run_once_and_statuses_never_regress(emulator: Emulator) -> None:
    emulator.engine.config.delivered_delay = 0  # statuses back to back, so a held one lands after its successor
    emulator.engine.config.read_delay = 0.001
    emulator.set_faults({"seed": 4, "webhook_duplicate_rate": 0.3, "webhook_out_of_order_rate": 0.3})
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands", safeguards=Safeguards.off())
    seen: dict[str, list[str]] = {}
    runs: Counter[str] = Counter()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        runs[ctx.event.event_id] += 1
        await ctx.reply(f"re: {ctx.text}")

    @bot.on_event(["message.sent", "message.delivered", "message.read"])
    async def status(ctx: Context) -> None:
        assert ctx.message is not None
        seen.setdefault(ctx.message.id, []).append(ctx.event.event_type.split(".")[1])

    async with serve_bot(bot, emulator, events=ALL_EVENT_TYPES):
        texts = await send_all(emulator, 3)
        await poll_until(lambda: outbound_count(emulator) >= len(texts), 30, "every message is answered")
        sent = emulator.messages(direction="outbound")
        await poll_until(
            lambda: all(bot.message_status(m["id"]) == "read" for m in sent), 30, "every reply is known as read"
        )
        await bot.inbox.drain(10)
        await emulator.settle()
    log = emulator.webhook_log()
    doubled = len(log) - len({d["event_id"] for d in log})
    assert doubled > 20, "the fault really duplicated deliveries"
    assert set(runs.values()) == {1} and len(runs) == len(texts), "each message event ran once"
    assert reply_counts(emulator) == Counter(f"re: {t}" for t in texts)
    for message_id, statuses in seen.items():
        ranks = [STATUS_RANK[s] for s in statuses]
        assert ranks == sorted(set(ranks)), f"{message_id}: handlers saw {statuses}"
    print(
        f"\nduplicated/out-of-order webhooks: {len(log)} deliveries ({doubled} duplicates), {len(texts)} messages, "
        f"{bot.status.stale} stale status events dropped"
    )
    assert bot.status.stale > 0, "some status webhooks really arrived late"


async def test_a_slow_handler_holds_only_its_own_chat_and_webhooks_stay_fast(emulator: Emulator) -> None:
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands", safeguards=Safeguards.off())
    release = asyncio.Event()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        if ctx.text == "slow":
            await release.wait()
        await ctx.reply(f"re: {ctx.text}")

    async with serve_bot(bot, emulator):
        await emulator.inbound(PEOPLE[0], "slow")
        await emulator.inbound(PEOPLE[0], "after slow")
        texts = [f"{p}-0" for p in PEOPLE[1:]]
        for person, text in zip(PEOPLE[1:], texts, strict=True):
            await emulator.inbound(person, text)
        await poll_until(lambda: outbound_count(emulator) >= len(texts), 20, "the other chats are answered")
        assert emulator.messages(handle=PEOPLE[0], direction="outbound") == []
        assert all(d["status"] == 200 for d in emulator.webhook_log()), "webhooks were acknowledged meanwhile"
        release.set()
        await poll_until(lambda: outbound_count(emulator) >= len(texts) + 2, 20, "the slow chat catches up")
    slow_chat = [m["text"] for m in emulator.messages(handle=PEOPLE[0], direction="outbound")]
    assert slow_chat == ["re: slow", "re: after slow"], "its own order is kept"
