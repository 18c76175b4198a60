"""Flood control per sender and the loop breaker for bot-to-bot ping-pong."""

from __future__ import annotations

import pytest

from linqbot import Context
from linqbot.middleware import Flood, LoopBreaker
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_a_burst_from_one_person_is_acknowledged_but_only_the_first_messages_are_dispatched() -> None:
    h = harness(flood=Flood(max_messages=3, per_seconds=10), loop_breaker=None)
    handled: list[str] = []

    @h.bot.on_message()
    async def count(ctx: Context) -> None:
        handled.append(ctx.text)

    async with simulate(h.bot) as sim:
        ann, bob = sim.user("+15550100002"), sim.user("+15550100003")
        for n in range(6):
            await ann.send(f"spam {n}")
        await bob.send("hello")
        await ann.send("STOP")  # still honoured inside a flood
        await sim.idle()
        assert handled == ["spam 0", "spam 1", "spam 2", "hello"]
        assert all(entry["status"] == 200 for entry in sim.emulator.webhook_log()), "every delivery acknowledged"
        assert await h.bot.safeguards.is_opted_out(ann.handle)
        await h.advance(sim, 11)
        await ann.send("sorry about that")
        await sim.idle()
        assert handled[-1] == "sorry about that"


async def test_a_bot_answering_instantly_is_cut_off_after_a_few_rounds_and_a_human_pace_never_is() -> None:
    h = harness(loop_breaker=LoopBreaker(fast_reply_within=2.0, rounds=4, cooldown=600), flood=None)

    @h.bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"you said: {ctx.text}")

    async with simulate(h.bot) as sim:
        other_bot = "+15550100007"
        sim.emulator.set_person(other_bot, auto_reply="I am a bot too", reply_delay=0.01)
        await h.bot.send(other_bot, "hello")
        await sim.emulator.wait_for(lambda: len(sim.emulator.messages(handle=other_bot, direction="inbound")) == 4)
        await sim.idle()
        assert len(sim.sent(other_bot)) == 4, "hello + 3 answers; the 4th instant round is not answered"
        sim.emulator.set_person(other_bot)  # the other side goes quiet

        human = sim.user("+15550100008")
        for n in range(8):
            await human.send(f"message {n}")
            assert (await human.expect_reply()).text == f"you said: message {n}"
            await sim.idle()
            await h.advance(sim, 5)  # people take a few seconds

        await sim.user(other_bot).send("anyone there?")
        await sim.idle()
        assert len(sim.sent(other_bot)) == 4, "cooling down"
        await h.advance(sim, 601)
        await sim.user(other_bot).send("anyone there?")
        await sim.idle()
        assert sim.sent(other_bot)[-1].text == "you said: anyone there?"
