"""Opt-out: Linq's keywords exactly, a hard local stop for every later send, one courtesy reply, opt back in."""

from __future__ import annotations

import pytest

from linqbot import Context
from linqbot.middleware import is_opt_out_keyword
from linqbot.outbound.errors import OptedOut
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")


@pytest.mark.parametrize(
    "text",
    ["STOP", "  STOP\n", "UNSUBSCRIBE", "OPTOUT", "CANCEL", "END", "QUIT", "OPT OUT", "opt out", "Opt-Out", "optout"],
)
def test_linqs_opt_out_keywords_are_recognised(text: str) -> None:
    assert is_opt_out_keyword(text)


@pytest.mark.parametrize("text", ["Stop", "stop", "please stop", "STOP!", "end", "quit it", "opt  out", "opt_out", ""])
def test_anything_else_is_an_ordinary_message(text: str) -> None:
    assert not is_opt_out_keyword(text)


async def test_stop_blocks_every_later_send_locally_and_writing_again_opts_back_in() -> None:
    h = harness()
    bot, seen = h.bot, []

    @bot.on_opt_out()
    async def goodbye(ctx: Context) -> None:
        seen.append(("out", ctx.text))
        await ctx.reply("You're unsubscribed.", override_optout=True)

    @bot.on_opt_in()
    async def welcome_back(ctx: Context) -> None:
        seen.append(("in", ctx.text))

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        seen.append(("message", ctx.text))
        await ctx.reply(f"echo: {ctx.text}")

    async with simulate(bot) as sim:
        ann = sim.user("+15550100002")
        await ann.send("hello")
        assert (await ann.expect_reply()).text == "echo: hello"
        await ann.send("STOP")
        assert (await ann.expect_reply()).text == "You're unsubscribed."
        await sim.idle()
        assert seen == [("message", "hello"), ("out", "STOP")], "STOP goes to on_opt_out, not to the echo handler"
        assert await bot.safeguards.is_opted_out(ann.handle)

        sends_before = len(h.ops("create_chat")) + len(h.ops("send_message"))
        with pytest.raises(OptedOut) as refused:
            await bot.send(ann.handle, "Big news!")
        assert refused.value.code == 2024
        with pytest.raises(OptedOut):
            await bot.send_to_chat(str(ann.last_chat_id), "Still there?")
        assert len(h.ops("create_chat")) + len(h.ops("send_message")) == sends_before, "refused before any HTTP"
        await ann.expect_no_reply()

        await ann.send("hi again")
        assert (await ann.expect_reply()).text == "echo: hi again"
        assert seen[-2:] == [("in", "hi again"), ("message", "hi again")]
        assert not await bot.safeguards.is_opted_out(ann.handle)
        await bot.send(ann.handle, "Welcome back")
        assert (await ann.expect_reply()).text == "Welcome back"


async def test_an_opt_out_the_bot_missed_is_learned_from_linqs_2024() -> None:
    h = harness()
    bot = h.bot
    bot.outer_middleware.remove("opt_out")  # the bot never sees the keyword …
    bot.outbound_middleware.remove("chat_health")  # … nor the OPTED_OUT health: only Linq's 403 tells

    async with simulate(bot) as sim:
        bob = sim.user("+15550100003")
        await bob.send("STOP")
        await sim.idle()
        with pytest.raises(OptedOut):
            await bot.send(bob.handle, "hello?")
        assert len(h.ops("create_chat")) == 1, "Linq answered 403/2024"
        with pytest.raises(OptedOut):
            await bot.send(bob.handle, "hello??")
        assert len(h.ops("create_chat")) == 1, "the second refusal came from the cache, without a request"
        await bob.expect_no_reply()
