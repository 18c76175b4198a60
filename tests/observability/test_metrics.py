"""``/metrics`` on the admin port, scraped over HTTP while a real bot talks to the emulator."""

from __future__ import annotations

import asyncio

import pytest

from linqbot import Bot, Context
from linqbot.middleware import Safeguards
from linqbot.outbound import OptedOut
from tests.observability.helpers import scrape, served, value

PERSON = "+15550100002"


def echo_bot() -> Bot:
    bot = Bot(env_file=None, safeguards=Safeguards(flood=None))

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"echo: {ctx.text}")

    return bot


async def test_events_handler_latency_and_sends_are_counted() -> None:
    bot = echo_bot()
    async with served(bot) as (sim, admin):
        user = sim.user(PERSON)
        await user.send("one")
        await user.expect_reply()
        await user.send("two")
        await user.expect_reply()
        await sim.idle()
        samples = await scrape(admin)

    accepted = value(samples, "linqbot_webhook_events_total", event_type="message.received", outcome="accepted")
    assert accepted == 2
    handler = "tests.observability.test_metrics.echo_bot.<locals>.echo"
    assert value(samples, "linqbot_handler_seconds_count", handler=handler, outcome="ok") == 2
    assert value(samples, "linqbot_handler_seconds_bucket", handler=handler, outcome="ok", le="+Inf") == 2
    assert value(samples, "linqbot_gate_decisions_total", gate="all", decision="sent") == 2
    assert value(samples, "linqbot_inbox_pending") == 0
    assert value(samples, "linqbot_dedup_hits_total") == 0


async def test_redelivered_webhooks_count_as_dedup_hits() -> None:
    bot = echo_bot()
    async with served(bot) as (sim, admin):
        sim.emulator.set_faults({"webhook_duplicate_rate": 1.0})
        user = sim.user(PERSON)
        await user.send("hello")
        await user.expect_reply()
        await sim.idle()
        samples = await scrape(admin)
        replies = len(user.replies())

    assert replies == 1, "the duplicate was dropped, not answered twice"
    assert value(samples, "linqbot_dedup_hits_total") >= 1
    assert value(samples, "linqbot_webhook_events_total", event_type="message.received", outcome="duplicate") >= 1


async def test_rate_limits_from_linq_are_counted_even_when_the_retry_succeeds() -> None:
    bot = echo_bot()
    async with served(bot) as (sim, admin):
        sim.emulator.set_faults({"rate_limit_storm": 2, "storm_retry_after": 1})
        user = sim.user(PERSON)
        await user.send("hi")
        await user.expect_reply(timeout=10)
        samples = await scrape(admin)

    assert value(samples, "linqbot_api_rate_limited_total") == 2


async def test_queue_depth_shows_events_waiting_for_a_slow_handler() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    release = asyncio.Event()
    started = asyncio.Event()

    @bot.on_message()
    async def slow(ctx: Context) -> None:
        started.set()
        await release.wait()

    async with served(bot) as (sim, admin):
        await sim.user(PERSON).send("first")
        await sim.user(PERSON).send("second")  # same chat: queued behind the first
        await asyncio.wait_for(started.wait(), 5)
        await sim.emulator.wait_for(lambda: bot.inbox.pending == 2, 5)
        busy = await scrape(admin)
        release.set()
        await sim.idle()
        done = await scrape(admin)

    assert value(busy, "linqbot_inbox_pending") == 2
    assert value(done, "linqbot_inbox_pending") == 0


async def test_an_opt_out_refusal_is_a_gate_decision() -> None:
    bot = echo_bot()
    async with served(bot) as (sim, admin):
        user = sim.user(PERSON)
        await user.send("STOP")
        await sim.idle()
        with pytest.raises(OptedOut):
            await bot.send(PERSON, "we miss you")
        samples = await scrape(admin)

    assert value(samples, "linqbot_gate_decisions_total", gate="opt_out", decision="blocked") == 1


async def test_a_failing_handler_is_timed_as_an_error() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards.off())

    @bot.on_message()
    async def broken(ctx: Context) -> None:
        raise RuntimeError("boom")

    async with served(bot) as (sim, admin):
        await sim.user(PERSON).send("hi")
        await sim.idle()
        samples = await scrape(admin)

    handler = "tests.observability.test_metrics.test_a_failing_handler_is_timed_as_an_error.<locals>.broken"
    assert value(samples, "linqbot_handler_seconds_count", handler=handler, outcome="error") == 1


def test_metrics_are_off_and_add_no_middleware_until_enabled() -> None:
    bot = echo_bot()

    bot.metrics.webhook("message.received", "accepted")
    bot.metrics.gate("pacing", "delayed")

    assert not bot.metrics.enabled
    assert "handler_timing" not in bot.middleware.names()
    assert "gate_metrics" not in bot.outbound_middleware.names()
    assert bot.metrics.render()[0] == b""
