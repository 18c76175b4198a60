"""Non-responders: proactive sends stop after N unanswered messages; a reply (or a tapback) resets the count."""

from __future__ import annotations

import pytest

from linqbot.middleware import NonResponderHold, NonResponders
from linqbot.middleware.chats import UNANSWERED_FOR
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_after_three_unanswered_messages_proactive_sends_are_held_until_the_person_replies() -> None:
    h = harness()
    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        for n in range(3):
            await h.bot.send(ann.handle, f"reminder {n}")
        with pytest.raises(NonResponderHold):
            await h.bot.send(ann.handle, "reminder 3")
        assert len(ann.replies()) == 3
        await ann.send("ok thanks")
        await sim.idle()
        await h.bot.send(ann.handle, "glad to hear")
        assert ann.replies()[-1].text == "glad to hear"


async def test_a_tapback_counts_as_an_answer_and_drop_mode_skips_quietly() -> None:
    h = harness(non_responders=NonResponders(after=1, mode="drop"))
    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        first = await h.bot.send(ann.handle, "one")
        assert await h.bot.send(ann.handle, "two") is None
        assert [m.text for m in ann.replies()] == ["one"]
        await ann.react(first.chat.message.id, "like")
        await sim.idle()
        await h.bot.send(ann.handle, "three")
        assert [m.text for m in ann.replies()] == ["one", "three"]


async def test_a_person_who_never_answered_may_be_messaged_again_a_month_after_the_last_message() -> None:
    h = harness(non_responders=NonResponders(after=1))
    async with simulate(h.bot) as sim:
        ann = sim.user("+15550100002")
        await h.bot.send(ann.handle, "hello")
        await h.advance(sim, UNANSWERED_FOR - 60)
        with pytest.raises(NonResponderHold):
            await h.bot.send(ann.handle, "still there?")
        await h.advance(sim, 61)  # the unanswered message has aged out of what the rule looks back on
        await h.bot.send(ann.handle, "a month later")
        assert [m.text for m in ann.replies()] == ["hello", "a month later"]
