"""Every safeguard is on by default, configurable, and removable by name like any middleware."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from linqbot import Bot, Context
from linqbot.middleware import Safeguards
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")


def test_all_safeguards_are_installed_by_default_in_working_order() -> None:
    bot = Bot(env_file=None)
    outer = bot.outer_middleware.names()
    assert [n for n in outer if n in {"safeguard_tracking", "opt_out", "flood_control", "loop_breaker"}] == [
        "safeguard_tracking",
        "opt_out",
        "flood_control",
        "loop_breaker",
    ]
    assert "typing" in bot.middleware.names()
    assert bot.outbound_middleware.names()[:6] == [
        "pacing",
        "opt_out",
        "chat_health",
        "non_responders",
        "typing",
        "safeguard_tracking",
    ]


def test_switching_one_off_leaves_the_others_and_off_leaves_only_the_bookkeeping() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards(pacing=None, flood=None))
    assert "pacing" not in bot.outbound_middleware.names() and "flood_control" not in bot.outer_middleware
    assert "opt_out" in bot.outbound_middleware.names()
    without_plugins = [f"-{ep.name}" for ep in entry_points(group="linqbot")]  # plugins add middleware of their own
    bare = Bot(env_file=None, safeguards=Safeguards.off(), plugins=without_plugins)
    assert bare.outbound_middleware.names() == ["safeguard_tracking"]
    assert "typing" not in bare.middleware


async def test_removing_a_safeguard_by_name_really_switches_it_off() -> None:
    bot = Bot(env_file=None)
    bot.outer_middleware.remove("opt_out")
    heard: list[str] = []

    @bot.on_message()
    async def everything(ctx: Context) -> None:
        heard.append(ctx.text)

    async with simulate(bot) as sim:
        await sim.user("+15550100002").send("STOP")
        await sim.idle()
        assert heard == ["STOP"]
        assert not await bot.safeguards.is_opted_out("+15550100002")
