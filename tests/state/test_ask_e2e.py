"""``ctx.ask`` end to end: a person talks to the bot through the Linq emulator while a handler waits for answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from linqbot_state import AskTimeout, MemoryStore, StateContext, StateStore

from linqbot import Bot, Context
from linqbot.middleware import Safeguards
from linqbot.outbound import OutboundCall
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")

QUIET = Safeguards.off()
"""These bots answer at machine speed on purpose; deliverability safeguards are tested elsewhere."""


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


ANN = "+15550100002"
BEN = "+15550100003"


def survey_bot(store: StateStore, *, timeout: float = 5.0) -> Bot:
    """Asks name then age, thanks the person; everything else is echoed."""
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = store  # type: ignore[attr-defined]

    @bot.on_message(text="survey")
    async def survey(ctx: StateContext) -> None:
        try:
            name = (await ctx.ask("What's your name?", timeout=timeout)).text
            age = (await ctx.ask(f"How old are you, {name}?", timeout=timeout)).text
        except AskTimeout:
            await ctx.reply("Survey cancelled: no answer in time.")
            return
        await ctx.person_state.update({"name": name, "age": int(age)})
        await ctx.reply(f"Thanks, {name} ({age})!")

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"echo: {ctx.text}")

    return bot


async def test_survey_round_trip_on_every_backend(store: StateStore) -> None:
    async with simulate(survey_bot(store)) as sim:
        ann = sim.user(ANN)
        await ann.send("survey")
        assert (await ann.expect_reply()).text == "What's your name?"
        await ann.send("Ann")
        assert (await ann.expect_reply()).text == "How old are you, Ann?"
        await ann.send("34")
        assert (await ann.expect_reply()).text == "Thanks, Ann (34)!"
        await ann.expect_no_reply()  # the answers were consumed: the echo handler never saw them
        await ann.send("hello")
        assert (await ann.expect_reply()).text == "echo: hello"
    assert await store.person(ANN).items() == {"name": "Ann", "age": 34}


async def test_answers_sent_back_to_back_each_reach_their_own_question(store: StateStore) -> None:
    """The answering event's lane waits for the resumed handler to park again, so the next answer is not lost."""
    async with simulate(survey_bot(store)) as sim:
        ann = sim.user(ANN)
        await ann.send("survey")
        assert (await ann.expect_reply()).text == "What's your name?"
        await ann.send("Ann")
        await ann.send("34")
        await ann.send("after")
        replies = [reply.text for reply in await ann.expect_replies(3)]
        await ann.expect_no_reply()
    assert replies == ["How old are you, Ann?", "Thanks, Ann (34)!", "echo: after"]


async def test_no_answer_in_time_raises_ask_timeout_and_later_messages_route_normally(memory: MemoryStore) -> None:
    async with simulate(survey_bot(memory, timeout=0.3)) as sim:
        ann = sim.user(ANN)
        await ann.send("survey")
        assert (await ann.expect_reply()).text == "What's your name?"
        assert (await ann.expect_reply()).text == "Survey cancelled: no answer in time."
        await ann.send("Ann")
        assert (await ann.expect_reply()).text == "echo: Ann"


async def test_in_a_group_only_the_asked_person_answers_and_the_chat_is_not_blocked(memory: MemoryStore) -> None:
    async with simulate(survey_bot(memory)) as sim:
        ann, ben = sim.user(ANN), sim.user(BEN)
        sent = await ann.send("survey", group=[BEN])
        chat_id = str(sent["chat_id"])
        assert (await ann.expect_reply()).text == "What's your name?"
        assert (await ben.expect_reply()).text == "What's your name?"  # Ben is in the group too
        await ben.send("I'm not Ann", chat_id=chat_id)
        assert (await ben.expect_reply()).text == "echo: I'm not Ann"
        assert (await ann.expect_reply()).text == "echo: I'm not Ann"
        await ann.send("Ann", chat_id=chat_id)
        assert (await ann.expect_reply()).text == "How old are you, Ann?"


async def test_other_chats_run_while_a_handler_waits(memory: MemoryStore) -> None:
    async with simulate(survey_bot(memory)) as sim:
        ann, ben = sim.user(ANN), sim.user(BEN)
        await ann.send("survey")
        assert (await ann.expect_reply()).text == "What's your name?"
        await ben.send("hi")
        assert (await ben.expect_reply()).text == "echo: hi"
        await ann.send("Ann")
        assert (await ann.expect_reply()).text == "How old are you, Ann?"


async def test_the_question_goes_through_outbound_middleware(memory: MemoryStore) -> None:
    bot = survey_bot(memory)
    seen: list[tuple[str, str | None]] = []

    async def record(call: OutboundCall, call_next: Any) -> Any:
        seen.append((call.op, call.chat_id))
        return await call_next(call)

    bot.outbound_middleware.add(record, name="record")
    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        sent = await ann.send("survey")
        assert (await ann.expect_reply()).text == "What's your name?"
    assert ("send_message", sent["chat_id"]) in seen


async def test_an_error_after_the_answer_reaches_the_error_handlers(memory: MemoryStore) -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = memory  # type: ignore[attr-defined]

    @bot.on_message(text="pick")
    async def pick(ctx: StateContext) -> None:
        answer = await ctx.ask("Pick a number")
        await ctx.reply(f"10 / {answer.text} = {10 / int(answer.text)}")

    @bot.on_error(ZeroDivisionError)
    async def oops(ctx: Context, error: Exception) -> None:
        await ctx.reply("Not zero, please.")

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        await ann.send("pick")
        assert (await ann.expect_reply()).text == "Pick a number"
        await ann.send("0")
        assert (await ann.expect_reply()).text == "Not zero, please."


async def test_ask_wrapped_in_another_task_is_refused_before_anything_is_sent(memory: MemoryStore) -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = memory  # type: ignore[attr-defined]

    @bot.on_message(text="wrapped")
    async def wrapped(ctx: StateContext) -> None:
        await asyncio.wait_for(ctx.ask("Never sent"), 5)

    @bot.on_error(RuntimeError)
    async def explain(ctx: Context, error: Exception) -> None:
        await ctx.reply(str(error))

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        await ann.send("wrapped")
        assert "pass timeout= instead" in (await ann.expect_reply()).text
        await ann.expect_no_reply()


async def test_stopping_the_bot_wakes_handlers_parked_in_ask(memory: MemoryStore) -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = memory  # type: ignore[attr-defined]
    outcome: list[str] = []

    @bot.on_message(text="wait")
    async def wait(ctx: StateContext) -> None:
        try:
            await ctx.ask("Waiting for you", timeout=None)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        await ann.send("wait")
        assert (await ann.expect_reply()).text == "Waiting for you"
        await sim.idle()  # a parked handler holds no lane: the bot counts as idle
    assert outcome == ["cancelled"]
