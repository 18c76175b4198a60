"""examples/outreach: the campaign (campaign.toml + people.csv) reaches each person once, in their daytime, with
their own fields; replies reach the example bot with the campaign attached."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from linqbot_outreach import Campaign

from linqbot.testing import simulate

from .conftest import EXAMPLES, load_example

CAMPAIGN = EXAMPLES / "outreach" / "campaign.toml"
ANA, BEN, CHLOE = "+15550100201", "+15550100202", "+15550100203"
STRANGER = "+15550100299"


class InstantClock:
    """Campaign time that jumps ahead on sleep, so pacing (6 a minute) costs no real time."""

    def __init__(self) -> None:
        # Today 16:00 UTC: 11:00–12:00 in New York, 10:00–11:00 in Chicago, 17:00–18:00 in Paris (with or without
        # daylight saving time) — inside everyone's 10:00–19:00 window. Today, because replies count towards a
        # campaign for 14 days after its message.
        self.at = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0).timestamp()

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += max(seconds, 0.0)
        await asyncio.sleep(0)


async def test_the_campaign_sends_each_person_their_own_message_once() -> None:
    bot, _ = load_example("outreach/tasting_bot.py")
    clock = InstantClock()
    async with simulate(bot) as sim:
        campaign = Campaign.from_file(bot, CAMPAIGN, clock=clock)
        campaign.validate()
        report = await campaign.run()
        assert (len(report.sent), report.skipped, report.failed, report.stopped) == (3, {}, {}, None)

        [to_ana] = sim.sent(to=ANA)
        assert to_ana.text == (
            "Hi Ana! Our spring menu is out, and the mushroom risotto is back. Want a table this week? Reply YES or NO."
        )
        assert "the tasting menu is back" in sim.sent(to=CHLOE)[0].text

        await campaign.run()  # re-running the same campaign id resumes: nobody is messaged twice
        assert [len(sim.sent(to=person)) for person in (ANA, BEN, CHLOE)] == [1, 1, 1]


async def test_replies_are_answered_with_the_campaign_in_mind() -> None:
    bot, _ = load_example("outreach/tasting_bot.py")
    clock = InstantClock()
    async with simulate(bot) as sim:
        await Campaign.from_file(bot, CAMPAIGN, clock=clock).run()
        ana, ben, stranger = sim.user(ANA), sim.user(BEN), sim.user(STRANGER)
        await ana.expect_reply()  # the campaign message
        await ben.expect_reply()

        await ana.send("Yes")
        assert (await ana.expect_reply()).text == "Wonderful, Ana! Which evening suits you, and for how many people?"
        await ben.send("no thanks")
        assert (await ben.expect_reply()).text.startswith("No problem, Ben")
        await stranger.send("yes")
        assert (await stranger.expect_reply()).text == "Hi! Text us any time to book a table."
