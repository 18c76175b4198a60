"""Typing while a slow handler works, never a needless DELETE, never a broken handler; paced bubbles."""

from __future__ import annotations

import asyncio

import pytest

from linqbot import Context
from linqbot.middleware import Typing
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_a_slow_handler_shows_typing_and_its_reply_clears_it_without_a_delete() -> None:
    h = harness()
    started, release = asyncio.Event(), asyncio.Event()

    @h.bot.on_message()
    async def slow(ctx: Context) -> None:
        started.set()
        await release.wait()
        await ctx.reply("done thinking")

    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        await ann.send("think hard")
        await started.wait()
        await h.clock.wait_for_sleepers(1)
        assert not ann.saw_typing(), "no indicator for the first 0.8 s"
        await h.advance(sim, 1.0)
        await ann.expect_typing()
        await h.clock.wait_for_sleepers(1)
        await h.advance(sim, 55.0)  # the refresh before Linq's ~60 s expiry
        await sim.emulator.wait_for(lambda: len(h.ops("typing_start")) == 2)
        release.set()
        assert (await ann.expect_reply()).text == "done thinking"
        await sim.idle()
        assert h.chat_ops() == ["typing_start", "typing_start", "send_message"]


async def test_a_handler_that_ends_silently_stops_the_indicator_and_a_fast_one_never_starts_it() -> None:
    h = harness()
    release = asyncio.Event()

    @h.bot.on_message(text="slow")
    async def slow(ctx: Context) -> None:
        await release.wait()

    @h.bot.on_message()
    async def fast(ctx: Context) -> None:
        await ctx.reply("quick")

    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        await ann.send("fast please")
        await ann.expect_reply()
        await sim.idle()
        assert h.ops("typing_start") == [] and not ann.saw_typing()

        await ann.send("slow")
        await h.clock.wait_for_sleepers(1)
        await h.advance(sim, 1.0)
        await ann.expect_typing()
        release.set()
        await sim.idle()
        assert h.chat_ops()[-2:] == ["typing_start", "typing_stop"]
        chat = next(c for c in sim.emulator.chats() if c["id"] == ann.last_chat_id)
        assert chat["typing"] == []


async def test_a_failing_typing_endpoint_never_breaks_the_handler() -> None:
    h = harness()

    @h.bot.on_message()
    async def slow(ctx: Context) -> None:
        await h.clock.sleep(2.0)  # "work" on the test's clock
        await ctx.reply("still answered")

    async with simulate(h.bot) as sim:
        sim.emulator.set_faults({"rules": [{"path": "/api/partner/v3/chats/*/typing", "error_rate": 1.0}]})
        ann = sim.user("+15550100002")
        await ann.send("hi")
        await h.clock.wait_for_sleepers(2)  # the handler's work and the typing timer
        await h.advance(sim, 2.0)
        assert (await ann.expect_reply()).text == "still answered"
        await sim.idle()
        assert len(h.ops("typing_start")) == 1 and h.errors == []


async def test_bubbles_go_out_in_order_with_typing_and_a_pause_that_grows_with_the_next_bubble() -> None:
    h = harness(typing=Typing(after=3600, pause_per_char=0.03, pause_min=0.3, pause_max=2.0))

    @h.bot.on_message()
    async def chatty(ctx: Context) -> None:
        await ctx.reply(["Hi!", "x" * 40, "ok"])

    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        await ann.send("hello")
        await h.clock.wait_for_sleepers(2)  # the (distant) typing timer and the pause before bubble 2
        assert [m.text for m in ann.replies()] == ["Hi!"]
        await h.advance(sim, 1.1)
        assert h.clock.sleepers == 2, "40 characters: a 1.2 s pause, not over after 1.1 s"
        await h.advance(sim, 0.15)
        await ann.expect_replies(2)
        await h.clock.wait_for_sleepers(2)
        await h.advance(sim, 0.35)  # "ok": the minimum pause (0.3 s)
        assert [m.text for m in await ann.expect_replies(1)] == ["ok"]
        await sim.idle()
        assert h.chat_ops() == [
            "send_message",
            "typing_start",
            "send_message",
            "typing_start",
            "send_message",
        ], "typing before each later bubble; each send clears it, so no DELETE"
