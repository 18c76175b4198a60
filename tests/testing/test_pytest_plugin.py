"""The ``linq_sim`` fixture, as a downstream project uses it: define ``bot``, get a running simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from linqbot import Bot, Context
from linqbot.testing import Simulation

pytestmark = pytest.mark.usefixtures("linq_env")

REPO = Path(__file__).resolve().parents[2]


def has_state_file(folder: Path) -> bool:
    return (folder / ".linqbot" / "state.db").exists()


@pytest.fixture
def bot() -> Bot:
    bot = Bot(env_file=None)

    @bot.on_message(contains="price")
    async def price(ctx: Context) -> None:
        await ctx.reply("It's $5.")

    @bot.on_message(contains="count")
    async def count(ctx: Context) -> None:
        visits = await ctx.person_state.get("visits", 0) + 1
        await ctx.person_state.set("visits", visits)
        await ctx.reply(f"visit {visits}")

    return bot


async def test_fixture_serves_the_bot(linq_sim: Simulation) -> None:
    user = linq_sim.user("+15550100010")
    await user.send("What's the price?")
    assert (await user.expect_reply()).text == "It's $5."


@pytest.mark.parametrize("run", [1, 2])
async def test_the_bots_local_files_belong_to_the_test(linq_sim: Simulation, tmp_path: Path, run: int) -> None:
    """Each test starts from empty state (both runs count 1), and nothing lands in the project's own .linqbot/."""
    user = linq_sim.user("+15550100010")
    await user.send("count me")
    assert (await user.expect_reply()).text == "visit 1"
    assert has_state_file(tmp_path)
    assert not has_state_file(REPO)
