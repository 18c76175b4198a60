"""Pacing: the per-pair limit is never tripped, a 429 pauses only its pair, and the line budgets hold."""

from __future__ import annotations

import asyncio

import pytest

from linqbot import Context
from linqbot.middleware import DailyBudgetExhausted, ManualClock, NewChatBudgetExhausted, Pacing, Typing
from linqbot.outbound import RateLimited, RetryPolicy
from linqbot.testing import SimulatedUser, Simulation, simulate

from .conftest import Harness, LinqClock, harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN = "+15550100002"


async def test_a_hundred_concurrent_replies_to_one_person_all_arrive_in_order_without_a_429() -> None:
    h = harness(typing=None)

    @h.bot.on_message(text="burst")
    async def burst(ctx: Context) -> None:
        await asyncio.gather(*(ctx.reply(f"reply {n}") for n in range(100)))

    # The emulator would score 100 unanswered sends CRITICAL; this test looks at pacing alone.
    async with simulate(h.bot, at_risk_after=10_000, critical_after=10_000) as sim:
        ann = sim.user("+15550100002")
        await ann.send("burst")
        for window in range(1, 4):
            await h.clock.wait_for_sleepers(1)  # the pacer holds the rest back instead of letting Linq say 429
            assert len(sim.sent(ann.handle)) == 30 * window
            await h.advance(sim, 60 + Pacing().pair_margin)
        replies = await ann.expect_replies(100)
        assert [r.text for r in replies] == [f"reply {n}" for n in range(100)]
        await sim.idle()
        assert h.errors == [], "no 429 (retries are off, so one would have reached the handler)"


async def test_a_429_pauses_only_its_own_pair_while_other_chats_go_on() -> None:
    h = harness(typing=None, retry=RetryPolicy(max_attempts=3))

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply(f"hi {ctx.text}")

    async with simulate(h.bot) as sim:
        sim.emulator.set_faults({"rate_limit_storm": 1, "storm_retry_after": 3})
        ann, bob = sim.user("+15550100002"), sim.user("+15550100003")
        await ann.send("ann")
        await bob.send("bob")
        names = {ann.handle: "ann", bob.handle: "bob"}
        first = (await sim.emulator.wait_for(sim.sent, timeout=2.5))[0]  # well before the 3 s Retry-After
        going = ann if first.to == [ann.handle] else bob
        stalled = bob if going is ann else ann
        assert stalled.replies() == [], "the rate-limited pair waits out its Retry-After (3 s) …"
        assert (await going.expect_reply(timeout=0.1)).text == f"hi {names[going.handle]}"
        assert (await stalled.expect_reply(timeout=6)).text == f"hi {names[stalled.handle]}", "… then sends"
        await sim.idle()
        assert h.errors == []


async def test_the_daily_budget_counts_inbound_and_outbound_and_refuses_with_a_typed_error() -> None:
    h = harness(pacing=Pacing(daily_budget=4))

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply("ok")

    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        for _ in range(2):  # 2 in + 2 out = the whole budget
            await ann.send("hi")
            await ann.expect_reply()
        await ann.send("hi")  # counted (inbound volume is volume) …
        await ann.expect_no_reply()  # … and the reply would exceed the budget
        assert [type(e) for e in h.errors] == [DailyBudgetExhausted]
        with pytest.raises(DailyBudgetExhausted):
            await h.bot.send("+15550100009", "news")
        await h.advance(sim, 24 * 3600)
        await h.bot.send(ann.handle, "a new day")
        assert (await ann.expect_reply()).text == "a new day"


async def test_a_send_cancelled_while_it_waits_for_its_pair_slot_gives_back_its_budget_count() -> None:
    h = harness(pacing=Pacing(per_pair=1, daily_budget=10), non_responders=None)
    second: list[asyncio.Task[object]] = []

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply("first")
        second.append(asyncio.create_task(ctx.reply("second")))  # waits for the pair's window on the manual clock

    async with simulate(h.bot) as sim:
        ann = sim.user(ANN)
        await ann.send("hi")
        await ann.expect_reply()
        assert isinstance(h.clock, ManualClock)
        await h.clock.wait_for_sleepers(1)  # the second reply waits for its pair's window …
        assert await h.budget_used() == 3, "… its count already taken: in, first, second"
        second[0].cancel()  # a shutdown, or the handler's own timeout
        with pytest.raises(asyncio.CancelledError):
            await second[0]
        assert await h.budget_used() == 2, "nothing was sent for the cancelled reply, so nothing stays counted"
        assert len(ann.replies()) == 1


async def test_new_conversations_are_budgeted_per_line_but_existing_chats_are_not() -> None:
    h = harness(pacing=Pacing(new_chats_per_day=2))
    async with simulate(h.bot) as sim:
        await h.bot.send("+15550100011", "welcome")
        await h.bot.send("+15550100012", "welcome")
        with pytest.raises(NewChatBudgetExhausted) as refused:
            await h.bot.send("+15550100013", "welcome")
        assert refused.value.retry_at is not None
        await h.bot.send("+15550100011", "and a follow-up in the existing chat")
        assert sorted(m.to[0] for m in sim.sent()) == ["+15550100011", "+15550100011", "+15550100012"]


SLOW_BUBBLE = "and this second bubble is long enough for the longest typing pause."
"""The typing safeguard pauses before sending it (2 s for this length) after pacing gave it its slot."""


async def _fill_the_window_with_a_slow_bubble_first(h: Harness, sim: Simulation) -> SimulatedUser:
    """30 sends to one person within a minute, the oldest of which reached Linq 2 s after it took its slot; then a
    two-message reply waits for the window, and time moves to the moment the pacer lets it go."""

    @h.bot.on_message(text="story")
    async def story(ctx: Context) -> None:
        await ctx.reply(["Once upon a time", SLOW_BUBBLE])

    @h.bot.on_message(text="more")
    async def more(ctx: Context) -> None:
        for n in range(28):
            await ctx.reply(f"line {n}")

    @h.bot.on_message(text="again")
    async def again(ctx: Context) -> None:
        await ctx.reply("first answer")
        await ctx.reply("second answer")

    sim.emulator.set_person(ANN, imessage=False)  # an SMS contact: no typing indicator, only the bubble pause
    ann = sim.user(ANN)
    await ann.send("story")
    await h.clock.wait_for_sleepers(1)  # bubble 2 holds its slot through its typing pause
    await h.advance(sim, Typing().bubble_pause(SLOW_BUBBLE))
    await ann.expect_replies(2)
    await ann.send("more")
    await ann.expect_replies(28)
    await ann.send("again")
    await h.clock.wait_for_sleepers(1)  # 30 in the window: the pacer holds the answers back
    assert len(ann.replies()) == 30
    assert isinstance(h.clock, LinqClock)
    await h.advance(sim, h.clock.until_next_wake())  # exactly when the pacer lets the next send go
    return ann


async def test_without_a_margin_a_send_that_reached_linq_late_gets_a_429_at_the_window_boundary() -> None:
    h = harness(pacing=Pacing(pair_margin=0.0), clock=LinqClock())
    async with simulate(h.bot, at_risk_after=10_000, critical_after=10_000) as sim:
        ann = await _fill_the_window_with_a_slow_bubble_first(h, sim)
        await sim.idle()
        assert [type(e) for e in h.errors] == [RateLimited], "Linq still counts the slow bubble: 30 in its window"
        assert len(ann.replies()) <= 31


async def test_the_default_margin_waits_out_linqs_window_so_the_boundary_sends_are_accepted() -> None:
    h = harness(clock=LinqClock())
    async with simulate(h.bot, at_risk_after=10_000, critical_after=10_000) as sim:
        ann = await _fill_the_window_with_a_slow_bubble_first(h, sim)
        assert [r.text for r in await ann.expect_replies(2)] == ["first answer", "second answer"]
        await sim.idle()
        assert h.errors == []
