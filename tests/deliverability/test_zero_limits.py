"""A budget of 0 means "none allowed": every send it covers is refused with that budget's typed error (no time at
which it would pass) and nothing reaches Linq — on the in-memory store and on a real redis-server alike. A negative
limit, or a pair limit that could never let a send through, is refused when the settings are built."""

from __future__ import annotations

import pytest

from linqbot import Context
from linqbot.middleware import DailyBudgetExhausted, NewChatBudgetExhausted, Pacing
from linqbot.middleware.store import SafeguardStore
from linqbot.testing import simulate

from .conftest import Harness, harness

pytestmark = pytest.mark.usefixtures("linq_env")

ANN, BOB = "+15550100002", "+15550100003"


def answering(pacing: Pacing, store: SafeguardStore) -> Harness:
    """A bot on ``store`` that answers every message "ok", paced by ``pacing``."""
    h = harness(pacing=pacing, store=store, non_responders=None)

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply("ok")

    return h


async def test_a_daily_budget_of_0_refuses_every_send_and_counts_nothing(store: SafeguardStore) -> None:
    h = answering(Pacing(daily_budget=0), store)
    async with simulate(h.bot) as sim:
        with pytest.raises(DailyBudgetExhausted, match="budget of 0") as refused:
            await h.bot.send(BOB, "news")
        assert refused.value.retry_at is None, "no time at which a budget of 0 lets it through"
        await sim.user(ANN).send("hi")
        await sim.user(ANN).expect_no_reply()
        assert [type(e) for e in h.errors] == [DailyBudgetExhausted], "a reply is refused the same way"
        await h.advance(sim, 2 * 24 * 3600)
        with pytest.raises(DailyBudgetExhausted):
            await h.bot.send(ANN, "still none, days later")
        assert sim.sent() == []


async def test_a_new_chat_budget_of_0_refuses_new_conversations_but_not_replies(store: SafeguardStore) -> None:
    h = answering(Pacing(new_chats_per_day=0), store)
    async with simulate(h.bot) as sim:
        with pytest.raises(NewChatBudgetExhausted, match="opened 0 new conversations") as refused:
            await h.bot.send(BOB, "welcome")
        assert refused.value.retry_at is None
        await sim.user(ANN).send("hi")
        assert (await sim.user(ANN).expect_reply()).text == "ok", "the person opened this chat: no new one"
        assert sim.sent(BOB) == [] and h.errors == []


async def test_an_at_risk_budget_of_0_stops_new_conversations_only_while_the_line_is_at_risk(
    store: SafeguardStore,
) -> None:
    h = harness(pacing=Pacing(new_chats_per_day_at_risk=0), store=store, non_responders=None)
    async with simulate(h.bot) as sim:
        await h.bot.send(ANN, "welcome")
        line = h.bot.client.phone_number
        assert line is not None
        sim.emulator.set_line_status(line, reputation="AT_RISK")
        await sim.idle()
        with pytest.raises(NewChatBudgetExhausted, match="opened 0 new conversations"):
            await h.bot.send(BOB, "welcome")
        await h.bot.send(ANN, "a follow-up in the existing chat")
        assert [m.text for m in sim.sent()] == ["welcome", "a follow-up in the existing chat"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("daily_budget", -1, r"Pacing\.daily_budget must be 0 or more \(0: no sends\), not -1"),
        ("new_chats_per_day", -5, r"Pacing\.new_chats_per_day must be 0 or more"),
        ("new_chats_per_day_at_risk", -1, r"Pacing\.new_chats_per_day_at_risk must be 0 or more"),
        ("per_pair", 0, r"Pacing\.per_pair must be 1 or more"),
        ("pair_window", 0, r"Pacing\.pair_window must be more than 0"),
        ("pair_margin", -1, r"Pacing\.pair_margin must be 0 or more"),
    ],
)
def test_a_limit_that_means_nothing_is_refused_with_the_settings_name(setting: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pacing(**{setting: value})
