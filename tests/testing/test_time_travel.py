"""``sim.advance``: scheduled work that would come due meanwhile runs now, without waiting for real."""

from __future__ import annotations

from datetime import timedelta

import pytest

from linqbot import Bot, Context
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")


async def test_advancing_time_fires_due_scheduled_messages_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQBOT_SCHEDULER_URL", "memory://")
    bot = Bot(env_file=None)

    @bot.on_message(text="remind me")
    async def remind(ctx: Context) -> None:
        await bot.schedule_message(to=ctx.sender, text="Your appointment is in 1 hour", at=timedelta(hours=23))  # type: ignore[attr-defined]
        await bot.schedule_message(to=ctx.sender, text="See you tomorrow!", at=timedelta(hours=24, minutes=30))  # type: ignore[attr-defined]
        await ctx.reply("Reminder set")

    async with simulate(bot) as sim:
        user = sim.user("+15550100300")
        await user.send("remind me")
        assert (await user.expect_reply()).text == "Reminder set"

        await sim.advance(22 * 3600)
        await user.expect_no_reply()

        await sim.advance(3600 + 60)
        assert (await user.expect_reply()).text == "Your appointment is in 1 hour"
        await user.expect_no_reply()

        await sim.advance(1.5 * 3600)
        assert (await user.expect_reply()).text == "See you tomorrow!"
