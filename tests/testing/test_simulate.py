"""The testing kit end to end: a bot served over HTTP, the emulator, and simulated people."""

from __future__ import annotations

import asyncio

import pytest

from linqbot import Bot, Context
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")


def echo_bot() -> Bot:
    bot = Bot(env_file=None)

    @bot.on_message(text="hi")
    async def hi(ctx: Context) -> None:
        await ctx.reply("Hello!", effect="confetti")

    @bot.on_message(text="slow")
    async def slow(ctx: Context) -> None:
        async with ctx.typing():
            await ctx.mark_read()
            await ctx.react("like")
            await ctx.reply(["one", "two", "three"])

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"echo: {ctx.text}", reply_to=True)

    return bot


async def test_a_person_gets_the_bots_answer() -> None:
    async with simulate(echo_bot()) as sim:
        user = sim.user("+15550100002")
        await user.send("hi")
        reply = await user.expect_reply()
        assert reply.text == "Hello!"
        assert reply.effect == {"type": "screen", "name": "confetti"}
        await user.expect_no_reply()


async def test_threaded_echo_and_ordered_bubbles_typing_read_and_tapback() -> None:
    async with simulate(echo_bot()) as sim:
        user = sim.user("+15550100003")
        sent = await user.send("ping")
        reply = await user.expect_reply()
        assert reply.text == "echo: ping"
        assert reply.reply_to is not None and reply.reply_to["message_id"] == sent["message_id"]

        slow = await user.send("slow")
        assert [m.text for m in await user.expect_replies(3)] == ["one", "two", "three"]
        assert user.saw_typing()
        await sim.idle()
        assert slow["message_id"] in user.read_receipts()
        assert [r["type"] for r in user.reactions_from_bot()] == ["like"]


async def test_each_person_has_their_own_conversation() -> None:
    async with simulate(echo_bot()) as sim:
        people = [sim.user(f"+1555010{n:04d}") for n in range(5)]
        await asyncio.gather(*(p.send(f"from {p.handle}") for p in people))
        for person in people:
            assert (await person.expect_reply()).text == f"echo: from {person.handle}"
        assert len(sim.sent()) == 5


async def test_expect_reply_fails_clearly_when_the_bot_stays_silent() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot) as sim:
        user = sim.user("+15550100009")
        await user.send("anyone?")
        with pytest.raises(AssertionError, match="sent nothing more"):
            await user.expect_reply(timeout=0.3)


async def test_legacy_payload_subscriptions_reach_the_same_handlers() -> None:
    async with simulate(echo_bot(), payload_version="2025-01-01") as sim:
        user = sim.user("+15550100011")
        await user.send("ping")
        assert (await user.expect_reply()).text == "echo: ping"
        await user.send("hi")
        assert (await user.expect_reply()).text == "Hello!"
