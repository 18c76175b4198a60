"""Crashes mid-campaign never message anyone twice; replies reach handlers with ``ctx.campaign``."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import time
from typing import Any

import pytest
from linqbot_outreach import Campaign, SendingWindow, campaign_of

from linqbot import Context
from linqbot.outbound import OutboundCall
from linqbot.testing import Simulation, simulate

from .conftest import FastClock, handles, outreach_bot, people

pytestmark = pytest.mark.usefixtures("campaign_db")

TEMPLATE = "Hi {first_name}, are you still looking for a flat?"
ALL_DAY = SendingWindow(time(0), time.max)


def per_person(sim: Simulation) -> Counter[str]:
    return Counter(handle for m in sim.sent() for handle in m.to)


async def test_a_crash_between_send_and_bookkeeping_does_not_double_send() -> None:
    crowd = people(10)
    bot = outreach_bot()
    sends = 0

    async def crash_after_fifth_send(call: OutboundCall, call_next: Any) -> Any:
        nonlocal sends
        result = await call_next(call)
        sends += call.is_send
        if call.is_send and sends == 5:
            raise asyncio.CancelledError()  # the process dies after Linq accepted, before "sent" is recorded
        return result

    bot.outbound_middleware.add(crash_after_fifth_send, name="crash")
    async with simulate(bot) as sim:
        campaign = Campaign(bot, id="crash", recipients=crowd, template=TEMPLATE, clock=FastClock())
        with pytest.raises(asyncio.CancelledError):
            await campaign.run()
        status = await campaign.status()
        assert (status.sent, status.sending, status.pending) == (4, 1, 5)
        assert len(sim.sent()) == 5

        bot.outbound_middleware.remove("crash")
        report = await Campaign(bot, id="crash", recipients=crowd, template=TEMPLATE, clock=FastClock()).run()
        assert sorted(report.sent) == sorted(handles(crowd))
        assert per_person(sim) == Counter(handles(crowd))  # everyone exactly once, counted by the emulator


async def test_cancelling_the_task_mid_campaign_then_resuming_messages_everyone_once() -> None:
    crowd = people(20)
    bot = outreach_bot()
    async with simulate(bot) as sim:
        campaign = Campaign(bot, id="cancel", recipients=crowd, template=TEMPLATE, clock=FastClock())
        task = asyncio.create_task(campaign.run())
        await sim.emulator.wait_for(lambda: len(sim.sent()) >= 7)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert 7 <= len(sim.sent()) < 20

        report = await campaign.run()
        assert len(report.sent) == 20
        assert per_person(sim) == Counter(handles(crowd))


async def test_replies_reach_handlers_with_the_campaign() -> None:
    crowd = people(2)
    bot = outreach_bot()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        campaign = campaign_of(ctx)
        if campaign is None:
            await ctx.reply("Hello stranger")
        else:
            await ctx.reply(f"Thanks {campaign.fields['first_name']} ({campaign.id}): when suits you?")
        assert ctx.campaign is campaign  # type: ignore[attr-defined]

    async with simulate(bot) as sim:
        await Campaign(bot, id="flats", recipients=crowd, template=TEMPLATE, window=ALL_DAY).run()
        person = sim.user(crowd[1].handle)
        await person.expect_reply()  # the campaign message itself
        await person.send("yes please")
        assert (await person.expect_reply()).text == "Thanks Person1 (flats): when suits you?"

        stranger = sim.user("+15550109999")
        await stranger.send("hi")
        assert (await stranger.expect_reply()).text == "Hello stranger"
