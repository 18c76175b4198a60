"""examples/command_menu.py: commands with typed arguments, generated help, and a fallback for everything else."""

from __future__ import annotations

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"


async def test_menu_order_and_hours() -> None:
    bot, _ = load_example("command_menu.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("menu")
        menu = (await ana.expect_reply()).text
        assert menu.startswith("Today's menu:") and "• latte — $4.50" in menu

        await ana.send("Order 2 latte")  # phones capitalise the first word
        assert (await ana.expect_reply()).text == "2 × latte: $9.00. It'll be ready in 10 minutes!"
        assert [r["type"] for r in ana.reactions_from_bot()] == ["like"]

        await ana.send("/hours")
        assert (await ana.expect_reply()).text.startswith("We're open Mon–Fri")

        await ana.send("order 1 pizza")
        assert "don't have “pizza”" in (await ana.expect_reply()).text


async def test_a_wrong_argument_is_explained_with_the_usage() -> None:
    bot, _ = load_example("command_menu.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("order two lattes")
        answer = (await ana.expect_reply()).text
        assert "must be a whole number" in answer
        assert "order <quantity> <item...>" in answer


async def test_help_lists_the_commands_from_their_docstrings() -> None:
    bot, _ = load_example("command_menu.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("help")
        listing = (await ana.expect_reply()).text
        for line in ("What we serve today", "Order something to pick up", "When we're open"):
            assert line in listing


async def test_anything_else_gets_pointed_at_the_menu() -> None:
    bot, _ = load_example("command_menu.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("good morning")
        assert (await ana.expect_reply()).text.startswith("Hi! Type menu")
