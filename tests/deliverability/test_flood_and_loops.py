"""Flood control per sender and the loop breaker for bot-to-bot ping-pong."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from linqbot import Bot, Context
from linqbot.emulator import Emulator
from linqbot.middleware import Flood, LoopBreaker, ManualClock, Safeguards
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN = "+15550100002"
SLOW_DOWN = "Whoa, that's a lot at once! Could you put your question in one message?"


async def test_a_fast_typist_sending_a_dozen_short_bubbles_gets_every_one_answered() -> None:
    h = harness()
    h.bot.metrics.enable(lambda: 0.0)

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply(f"got {ctx.text}")

    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        bubbles = ["hey", "so", "quick question", "do you", "ship to", "canada", "and", "how long", "does it", "take"]
        bubbles += ["thanks", "!!"]
        for bubble in bubbles:  # 12 bubbles in under 10 s, one every 0.8 s
            await ann.send(bubble)
            await h.advance(sim, 0.8)
        await sim.idle()
        assert sorted(r.text for r in ann.replies()) == sorted(f"got {b}" for b in bubbles)
        assert h.bot.metrics.sample("linqbot_gate_decisions_total", gate="flood_control", decision="dropped") == 0


async def test_a_burst_over_the_limit_is_held_from_handlers_visibly_and_on_flood_runs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = harness(flood=Flood(max_messages=3, per_seconds=10), loop_breaker=None)
    h.bot.metrics.enable(lambda: 0.0)
    handled: dict[str, list[str]] = {}
    floods: list[str] = []

    @h.bot.on_message()
    async def count(ctx: Context) -> None:
        handled.setdefault(str(ctx.sender), []).append(ctx.text)

    @h.bot.on_flood()
    async def slow_down(ctx: Context) -> None:
        floods.append(ctx.text)
        await ctx.reply(SLOW_DOWN)

    async with simulate(h.bot) as sim:
        ann, bob = sim.user("+15550100002"), sim.user("+15550100003")
        with caplog.at_level(logging.INFO, logger="linqbot.safeguards.flood"):
            for n in range(6):
                await ann.send(f"spam {n}")
            await bob.send("hello")
            await sim.idle()
        assert handled == {ann.handle: ["spam 0", "spam 1", "spam 2"], bob.handle: ["hello"]}
        assert floods == ["spam 3"], "once per burst: the first message over the limit"
        assert h.errors == []
        assert [r.text for r in ann.replies()] == [
            "Whoa, that's a lot at once! Could you put your question in one message?"
        ]
        assert all(entry["status"] == 200 for entry in sim.emulator.webhook_log()), "every delivery acknowledged"
        held = h.bot.metrics.sample("linqbot_gate_decisions_total", gate="flood_control", decision="dropped")
        assert held == 3, "spam 3-5 reached no ordinary handler"
        notes = [r for r in caplog.records if r.name == "linqbot.safeguards.flood" and r.levelno == logging.INFO]
        assert len(notes) == 1 and "+1***02" in notes[0].getMessage()
        assert all(ann.handle not in r.getMessage() for r in caplog.records)

        await h.advance(sim, 11)
        await ann.send("sorry about that")
        await sim.idle()
        assert handled[ann.handle][-1] == "sorry about that"
        for n in range(4):  # a new burst, a new on_flood
            await ann.send(f"again {n}")
        await ann.send("STOP")  # still honoured inside a flood
        await sim.idle()
        assert floods == ["spam 3", "again 2"]
        assert await h.bot.safeguards.is_opted_out(ann.handle)


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


async def test_a_bot_restarted_with_a_backlog_answers_all_of_it_without_seeing_a_loop_or_a_flood(
    tmp_path: Path,
) -> None:
    inbox = f"sqlite:///{tmp_path}/inbox.db"
    async with Emulator() as emulator:
        stuck = Bot(env_file=None, inbox=inbox, drain_timeout=0, safeguards=Safeguards(clock=ManualClock()))

        @stuck.on_message()
        async def hang(ctx: Context) -> None:
            await asyncio.Event().wait()  # the process hangs and is restarted

        async with simulate(stuck, emulator=emulator) as sim:
            ann = sim.user(ANN)
            for n in range(12):  # one every half minute while the bot is stuck
                await ann.send(f"message {n}")
                await sim.advance(30)
            await emulator.wait_for(lambda: len(accepted(emulator)) == 12)

        h = harness(inbox=inbox)

        @h.bot.on_message()
        async def answer(ctx: Context) -> None:
            await ctx.reply(f"sorry for the wait: {ctx.text}")

        async with simulate(h.bot, emulator=emulator) as sim:
            ann = sim.user(ANN)
            replies = await ann.expect_replies(12)  # answered back to back, at machine speed
            assert [r.text for r in replies] == [f"sorry for the wait: message {n}" for n in range(12)]
            await ann.send("are you back?")
            assert (await ann.expect_reply()).text == "sorry for the wait: are you back?", "no cooldown"


def accepted(emulator: Emulator) -> list[Any]:
    """Message webhooks the bot answered 200 (stored in its inbox)."""
    return [e for e in emulator.webhook_log() if e["event_type"] == "message.received" and e["status"] == 200]
