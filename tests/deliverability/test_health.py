"""Chat health and line reputation: tracked from webhooks and reads, and obeyed before each send."""

from __future__ import annotations

import asyncio
import json

import pytest

from linqbot import Context
from linqbot.emulator import Emulator
from linqbot.events import parse_event
from linqbot.middleware import ChatHealthHold, Health, LineHold
from linqbot.outbound.errors import LineIneligible
from linqbot.testing import simulate

from .conftest import harness

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_health_from_webhooks_reaches_ctx_chat_and_an_at_risk_chat_gets_no_more_proactive_sends() -> None:
    h = harness(non_responders=None)
    seen: list[str] = []

    @h.bot.on_sent()
    async def sent(ctx: Context) -> None:
        assert ctx.chat is not None
        seen.append(ctx.chat.health)

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        assert ctx.chat is not None
        seen.append(f"inbound {ctx.chat.health}")
        await ctx.reply("thanks!")

    async with simulate(h.bot, at_risk_after=2, critical_after=50) as sim:
        ann = sim.user("+15550100002")
        await h.bot.send(ann.handle, "news 1")
        await sim.idle()  # the emulator reports the chat's health as of each webhook
        await h.bot.send(ann.handle, "news 2")
        await sim.idle()
        assert seen == ["HEALTHY", "AT_RISK"]
        with pytest.raises(ChatHealthHold):
            await h.bot.send(ann.handle, "news 3")
        await ann.expect_replies(2)
        await ann.send("ok ok")  # a reply is what an AT_RISK chat needs: answering it is allowed
        assert (await ann.expect_reply()).text == "thanks!"
        await sim.idle()
        assert seen[2] == "inbound HEALTHY"
        await h.bot.send(ann.handle, "news 3")


async def test_a_critical_chat_is_refused_or_queued_until_it_recovers() -> None:
    queued = harness(non_responders=None, health=Health(critical="queue", at_risk_max_unanswered=99))
    async with simulate(queued.bot, at_risk_after=1, critical_after=2) as sim:
        ann = sim.user("+15550100002")
        await queued.bot.send(ann.handle, "one")
        await queued.bot.send(ann.handle, "two")
        await sim.idle()
        held = asyncio.ensure_future(queued.bot.send(ann.handle, "three"))
        await ann.expect_replies(2)
        await ann.expect_no_reply()
        assert not held.done(), "CRITICAL: the send waits …"
        await ann.send("sorry, was busy")
        await held
        assert (await ann.expect_reply()).text == "three", "… and goes once the person answered"

    refusing = harness(non_responders=None, health=Health(at_risk_max_unanswered=99))
    async with simulate(refusing.bot, at_risk_after=1, critical_after=2) as sim:
        bob = sim.user("+15550100003")
        await refusing.bot.send(bob.handle, "one")
        await refusing.bot.send(bob.handle, "two")
        await sim.idle()
        with pytest.raises(ChatHealthHold, match="CRITICAL"):
            await refusing.bot.send(bob.handle, "three")


async def test_a_critical_line_opens_no_conversations_but_still_answers_people() -> None:
    h = harness()

    @h.bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply("hello")

    async with Emulator() as emulator:
        emulator.set_line_status(emulator.line, reputation="CRITICAL")
        async with simulate(h.bot, emulator=emulator) as sim:
            await h.bot.safeguards.started()  # GET /v3/phone_numbers at start-up
            with pytest.raises(LineHold):
                await h.bot.send("+15550100004", "cold outreach")
            ann = sim.user("+15550100002")
            await ann.send("hi")
            assert (await ann.expect_reply()).text == "hello"
            emulator.set_line_status(emulator.line, reputation="HEALTHY")  # phone_number.status_updated
            await sim.idle()
            await h.bot.send("+15550100004", "welcome")
            assert [m.text for m in sim.sent("+15550100004")] == ["welcome"]


async def test_linqs_2027_is_remembered_so_an_ineligible_line_is_not_hammered() -> None:
    h = harness()
    async with simulate(h.bot) as sim:
        sim.emulator.set_line_status(sim.emulator.line, status="FLAGGED")
        with pytest.raises(LineIneligible):
            await h.bot.send("+15550100002", "hi")
        with pytest.raises(LineIneligible, match="cached"):
            await h.bot.send("+15550100003", "hi")
        assert len(h.ops("create_chat")) == 1, "the second refusal cost no request"
        await h.advance(sim, 301)
        sim.emulator.set_line_status(sim.emulator.line, status="ACTIVE")
        await h.bot.send("+15550100003", "hi")


async def test_a_reputation_only_status_event_keeps_a_cached_2027() -> None:
    """``phone_number.status_updated`` also reports reputation-only changes, its status unchanged (here a late
    delivery still saying ACTIVE): only a change of status to ACTIVE ends a cached 2027."""
    h = harness()
    async with simulate(h.bot) as sim:
        line = sim.emulator.line
        sim.emulator.set_line_status(line, status="FLAGGED")
        await sim.idle()
        with pytest.raises(LineIneligible):
            await h.bot.send("+15550100002", "hi")
        data = {"phone_number": line, "previous_status": "ACTIVE", "new_status": "ACTIVE", "new_reputation": "AT_RISK"}
        envelope = {"event_type": "phone_number.status_updated", "event_id": "evt-late", "data": data}
        await h.bot.process(parse_event(json.dumps(envelope).encode()))
        with pytest.raises(LineIneligible, match="cached"):
            await h.bot.send("+15550100003", "hi")
        assert len(h.ops("create_chat")) == 1, "the refusal was not forgotten: no second request"


async def test_linq_reporting_the_line_active_ends_a_cached_2027_at_once(caplog: pytest.LogCaptureFixture) -> None:
    h = harness()
    async with simulate(h.bot) as sim:
        sim.emulator.set_line_status(sim.emulator.line, status="FLAGGED")  # phone_number.status_updated too
        await sim.idle()
        with pytest.raises(LineIneligible):
            await h.bot.send("+15550100002", "hi")
        with pytest.raises(LineIneligible, match="cached"):
            await h.bot.send("+15550100003", "hi")
        sim.emulator.set_line_status(sim.emulator.line, status="ACTIVE")
        await sim.idle()
        await h.bot.send("+15550100003", "hi")  # well inside the 300 s a 2027 is otherwise trusted
        assert [m.text for m in sim.sent("+15550100003")] == ["hi"]
    flagged = [r.getMessage() for r in caplog.records if "FLAGGED" in r.getMessage()]
    assert flagged and all(sim.emulator.line not in text for text in flagged), "warned, with the number masked"
