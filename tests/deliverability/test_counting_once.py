"""The line budgets count each message once, as Linq does, however often linqbot runs it: an inbound event re-run
(after a crash, or when its per-chat lease lapsed) and a send re-run with the same idempotency key (which Linq
deduplicates) add nothing — on the in-memory store and on a real redis-server alike."""

from __future__ import annotations

from typing import Any

import pytest

from linqbot import Context
from linqbot.emulator import FaultConfig
from linqbot.events import Event
from linqbot.middleware import (
    DailyBudgetExhausted,
    NewChatBudgetExhausted,
    NonResponderHold,
    NonResponders,
    Pacing,
    SafeguardHold,
)
from linqbot.middleware.store import SafeguardStore
from linqbot.outbound import LinqConnectionError, OutboundCall
from linqbot.outbound.pipeline import Next
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN, BOB, CAROL = "+15550100002", "+15550100003", "+15550100004"


async def test_an_inbound_event_run_again_is_counted_once_with_its_reply(store: SafeguardStore) -> None:
    h = harness(pacing=Pacing(daily_budget=4), store=store)
    runs: list[Event] = []

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        runs.append(ctx.event)
        await ctx.reply("ok")

    async with simulate(h.bot) as sim:
        ann = sim.user(ANN)
        await ann.send("hi")
        await ann.expect_reply()
        for _ in range(2):  # what the inbox does after a crash, or when the event's per-chat lease lapsed
            await h.bot.process(runs[0])
        assert len(runs) == 3 and len(ann.replies()) == 1, "Linq deduplicated the re-sent reply (same key)"
        assert await h.budget_used() == 2, "one message in, one out"
        await ann.send("hi again")
        assert (await ann.expect_reply()).text == "ok", "the re-runs left the budget for real messages"
        assert await h.budget_used() == 4
        await ann.send("one more")  # distinct messages still count, and the budget still stops at its limit
        await ann.expect_no_reply()
        assert [type(e) for e in h.errors] == [DailyBudgetExhausted]


def lose_the_first_answer() -> Any:
    """Outbound middleware: the first send reaches Linq, but its answer is lost (a timeout, a crash), so the caller
    cannot tell it went out and runs it again."""
    lost = [LinqConnectionError("the connection dropped before the answer came")]

    async def lose(call: OutboundCall, call_next: Next) -> Any:
        response = await call_next(call)
        if lost and call.is_send:
            raise lost.pop()
        return response

    return lose


async def test_a_send_run_again_with_its_idempotency_key_counts_once_against_both_budgets(
    store: SafeguardStore,
) -> None:
    h = harness(pacing=Pacing(daily_budget=3, new_chats_per_day=1), store=store, non_responders=None)
    h.bot.outbound_middleware.add(lose_the_first_answer(), name="lose_the_first_answer")
    async with simulate(h.bot) as sim:
        # Hold Linq's webhooks back, so the chat the first attempt opened is still unknown when the job runs again
        # (as in another process, before the chat.created webhook reached anyone): the re-run is a "new chat" too.
        sim.emulator.set_faults(FaultConfig(webhook_delay_ms=60_000))
        with pytest.raises(LinqConnectionError):
            await h.bot.send(BOB, "welcome", idempotency_key="welcome:bob")
        await h.bot.send(BOB, "welcome", idempotency_key="welcome:bob")
        assert [m.text for m in sim.sent(BOB)] == ["welcome"], "Linq deduplicated the second attempt"
        assert (await h.budget_used(), await h.budget_used("new_chats")) == (1, 1)
        with pytest.raises(NewChatBudgetExhausted):
            await h.bot.send(CAROL, "welcome", idempotency_key="welcome:carol")
        await h.bot.send(BOB, "second")
        await h.bot.send(BOB, "third")
        with pytest.raises(DailyBudgetExhausted):
            await h.bot.send(BOB, "fourth")
        assert [m.text for m in sim.sent(BOB)] == ["welcome", "second", "third"]
        assert sim.sent(CAROL) == []


async def test_a_refused_rerun_gives_back_nothing_but_a_refused_first_send_gives_back_its_count(
    store: SafeguardStore,
) -> None:
    h = harness(pacing=Pacing(daily_budget=10), store=store, non_responders=None, health=None)

    async def paused(call: OutboundCall, call_next: Next) -> Any:
        """A gate after pacing that holds every send while ``holding``."""
        if holding:
            raise SafeguardHold("held")
        return await call_next(call)

    holding = False
    h.bot.outbound_middleware.add(paused, name="paused")
    async with simulate(h.bot) as sim:
        await h.bot.send(ANN, "hello", idempotency_key="hello:ann")
        holding = True
        with pytest.raises(SafeguardHold):
            await h.bot.send(ANN, "hello", idempotency_key="hello:ann")  # the re-run is held …
        assert await h.budget_used() == 1, "… but the first run reached Linq: its count stays"
        with pytest.raises(SafeguardHold):
            await h.bot.send(ANN, "news", idempotency_key="news:ann")
        assert await h.budget_used() == 1, "a held first send is given back"
        holding = False
        await h.bot.send(ANN, "news", idempotency_key="news:ann")
        assert await h.budget_used() == 2
        assert [m.text for m in sim.sent(ANN)] == ["hello", "news"]


async def test_a_send_run_again_with_its_key_counts_once_as_unanswered(store: SafeguardStore) -> None:
    h = harness(store=store, non_responders=NonResponders(after=2))
    async with simulate(h.bot) as sim:
        for _ in range(2):  # a job run again after a crash or a lapsed lease: the same send, under the same key
            await h.bot.send(ANN, "your reminder", idempotency_key="reminder:ann")
        assert await h.bot.safeguards.directory.unanswered(ANN) == 1, "Linq delivered it once: one unanswered"
        await h.bot.send(ANN, "one more thing", idempotency_key="news:ann")
        with pytest.raises(NonResponderHold):
            await h.bot.send(ANN, "and another", idempotency_key="more:ann")
        assert [m.text for m in sim.sent(ANN)] == ["your reminder", "one more thing"]
