"""Campaigns against the emulator: gates, reasons, pacing, quiet hours, validation and the report."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from pathlib import Path

import pytest
from linqbot_outreach import Campaign, CampaignInvalid, Pacing, Recipient, SendingWindow

from linqbot.middleware import Pacing as SafeguardPacing
from linqbot.middleware import Safeguards
from linqbot.testing import Simulation, simulate

from .conftest import START, FastClock, handles, outreach_bot, people

pytestmark = pytest.mark.usefixtures("campaign_db")

TEMPLATE = "Hi {first_name}! The spring menu is out — want a table this week?"


def outbound_per_person(sim: Simulation) -> Counter[str]:
    return Counter(handle for m in sim.sent() for handle in m.to)


async def test_twenty_people_one_opted_out_one_blocked() -> None:
    crowd = people(20)
    opted_out, blocked = crowd[3].handle, crowd[11].handle
    clock = FastClock()
    bot = outreach_bot()
    async with simulate(bot) as sim:
        await sim.user(opted_out).send("STOP")
        await sim.idle()
        await bot.client.sdk.blocked_handles.block(handle=blocked)
        campaign = Campaign(
            bot, id="spring", recipients=crowd, template=TEMPLATE, pacing=Pacing(per_minute=5), clock=clock
        )
        seen: list[int] = []
        report = await campaign.run(on_progress=lambda status: seen.append(status.done))

        assert sorted(report.sent) == sorted(h for h in handles(crowd) if h not in (opted_out, blocked))
        assert report.skipped == {"OptedOut (code 2024)": [opted_out], "RecipientBlocked (code 2026)": [blocked]}
        assert report.failed == {} and report.waiting == {} and report.stopped is None
        status = await campaign.status()
        assert (status.total, status.sent, status.skipped, status.failed, status.pending) == (20, 18, 2, 0, 0)
        assert seen == list(range(1, 21))  # progress after every person

        per_person = outbound_per_person(sim)
        assert set(per_person) == set(report.sent) and set(per_person.values()) == {1}
        assert sim.sent(to=crowd[0].handle)[0].text == TEMPLATE.format(first_name="Person0")
        assert "18 sent" in report.summary() and "skipped 1: OptedOut (code 2024)" in report.summary()


async def test_pacing_keeps_to_the_rate_on_the_campaign_clock() -> None:
    crowd = people(12)
    clock = FastClock()
    bot = outreach_bot()
    async with simulate(bot):
        campaign = Campaign(
            bot, id="paced", recipients=crowd, template=TEMPLATE, pacing=Pacing(per_minute=5, per_hour=10), clock=clock
        )
        report = await campaign.run()
        assert len(report.sent) == 12
        times = sorted(s.sent_at or 0 for s in campaign.store.recipients("paced"))
        for index, start in enumerate(times):
            assert sum(1 for t in times[index:] if t < start + 60) <= 5
            assert sum(1 for t in times[index:] if t < start + 3600) <= 10
        assert times[-1] - times[0] >= 3600  # the 11th message waited for the hourly window


async def test_quiet_hours_defer_someone_at_night_until_their_morning() -> None:
    new_york = people(3)
    tokyo = Recipient("+81312345678", {"first_name": "Aiko"}, "Asia/Tokyo", row=5)
    clock = FastClock()
    bot = outreach_bot()
    async with simulate(bot) as sim:
        campaign = Campaign(
            bot, id="quiet", recipients=[*new_york, tokyo], template=TEMPLATE, window=SendingWindow(), clock=clock
        )
        report = await campaign.run(wait_for_window=False)
        assert sorted(report.sent) == sorted(handles(new_york))
        assert report.waiting == {"outside sending window until 2026-03-11 09:00 JST": [tokyo.handle]}
        assert sim.sent(to=tokyo.handle) == []

        clock.set(datetime.fromisoformat("2026-03-11T00:30:00+00:00"))  # 09:30 in Tokyo, 20:30 in New York
        report = await campaign.run(wait_for_window=False)
        assert sorted(report.sent) == sorted(handles([*new_york, tokyo])) and report.waiting == {}
        assert set(outbound_per_person(sim).values()) == {1}


async def test_waiting_for_the_window_sends_at_the_local_opening_time() -> None:
    tokyo = Recipient("+81312345679", {"first_name": "Ren"}, "Asia/Tokyo", row=2)
    clock = FastClock()
    bot = outreach_bot()
    async with simulate(bot):
        campaign = Campaign(bot, id="wait", recipients=[tokyo], template=TEMPLATE, clock=clock)
        report = await campaign.run()
        assert report.sent == [tokyo.handle]
        [state] = campaign.store.recipients("wait")
        assert state.sent_at == datetime.fromisoformat("2026-03-11T09:00:00+09:00").timestamp()
        assert clock.slept == [9 * 3600]


async def test_a_line_budget_stops_the_run_and_a_later_run_resumes() -> None:
    crowd = people(6)
    clock = FastClock()
    bot = outreach_bot(safeguards=Safeguards(pacing=SafeguardPacing(new_chats_per_day=4)))
    async with simulate(bot) as sim:
        campaign = Campaign(bot, id="budget", recipients=crowd, template=TEMPLATE, clock=clock)
        report = await campaign.run()
        assert report.stopped == "NewChatBudgetExhausted"
        assert len(report.sent) == 4
        assert report.waiting == {"NewChatBudgetExhausted": [crowd[4].handle], "not sent yet": [crowd[5].handle]}
        assert len(sim.sent()) == 4


async def test_bad_input_is_reported_in_full_before_anything_is_sent(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "phone,first_name,timezone\n"
        "+1 (555) 010-0100,Ana,America/New_York\n"
        "+15550100101,,America/New_York\n"
        "555-0102,Cleo,America/New_York\n"
        "+15550100103,Dan,Mars/Olympus\n"
        "+15550100100,Ana again,America/New_York\n"
    )
    bot = outreach_bot()
    async with simulate(bot) as sim:
        campaign = Campaign(bot, id="bad", recipients=csv, template=TEMPLATE)
        with pytest.raises(CampaignInvalid) as caught:
            await campaign.run()
        assert caught.value.problems == [
            "row 3: missing first_name for the template",
            "row 4: '5550102' is not an E.164 phone number or an email address",
            "row 5: unknown time zone 'Mars/Olympus'",
            "row 6: +1***00 is listed twice (first at row 2)",
        ]
        assert sim.sent() == []
        assert not campaign.store.exists("bad")

        no_zone = Campaign(bot, id="tz", recipients=people(1, timezone=None), template="Hi $first_name")
        with pytest.raises(CampaignInvalid, match="no timezone, and the campaign sets no default"):
            no_zone.validate()
        with pytest.raises(ValueError, match="fields must be named"):
            Campaign(bot, id="x", recipients=people(1), template="Hi {}")


def test_windows_that_cross_midnight() -> None:
    night = SendingWindow(time(22), time(6))
    zone = __import__("zoneinfo").ZoneInfo("UTC")
    assert night.is_open(START.replace(hour=23), zone) and not night.is_open(START.replace(hour=12), zone)
    assert night.opens_at(START.replace(hour=12), zone) == START.replace(hour=22)
    with pytest.raises(ValueError, match="use START-END"):
        SendingWindow.parse("9am")
