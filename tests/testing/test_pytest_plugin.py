"""The ``linq_sim`` fixture, as a downstream project uses it: define ``bot``, get a running simulation."""

from __future__ import annotations

import pytest

from linqbot import Bot, Context
from linqbot.testing import Simulation

pytestmark = pytest.mark.usefixtures("linq_env")


@pytest.fixture
def bot() -> Bot:
    bot = Bot(env_file=None)

    @bot.on_message(contains="price")
    async def price(ctx: Context) -> None:
        await ctx.reply("It's $5.")

    return bot


async def test_fixture_serves_the_bot(linq_sim: Simulation) -> None:
    user = linq_sim.user("+15550100010")
    await user.send("What's the price?")
    assert (await user.expect_reply()).text == "It's $5."
