"""Commands end to end: a person texts the bot through the Linq emulator and reads what it answers."""

from __future__ import annotations

from typing import Any

import pytest
from linqbot_commands import Rest

from linqbot import Bot, Context, Router
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")

PERSON = "+15550100002"


def weather_bot(**plugins: Any) -> Bot:
    """A bot with a weather command on an included router and a catch-all echo on the bot itself."""
    bot = Bot(env_file=None, plugins="commands", **plugins)
    router = Router("weather")

    @router.command("weather", aliases=["w"])
    async def weather(ctx: Context, city: Rest) -> None:
        """Current weather for a city.

        Type the city's name; quotes are not needed.
        """
        await ctx.reply(f"Sunny in {city}")

    @router.command("forecast")
    async def forecast(ctx: Context, days: int, city: Rest) -> None:
        """The forecast for the next days."""
        await ctx.reply(f"{days} sunny days in {city}")

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"echo: {ctx.text}")

    bot.include_router(router)
    return bot


async def test_a_person_types_a_command_with_or_without_slash_and_in_any_case() -> None:
    bot = weather_bot()
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        for typed in ("/weather paris", "weather Paris", "W  new york", "/WEATHER   Lyon  "):
            await user.send(typed)
        replies = [reply.text for reply in await user.expect_replies(4)]
    assert replies == ["Sunny in paris", "Sunny in Paris", "Sunny in new york", "Sunny in Lyon"]


async def test_commands_run_before_plain_handlers_and_other_messages_fall_through() -> None:
    bot = weather_bot()
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("/weather paris")
        assert (await user.expect_reply()).text == "Sunny in paris"
        await user.send("what a lovely day")
        assert (await user.expect_reply()).text == "echo: what a lovely day"
        await user.send("/nosuchcommand")
        assert (await user.expect_reply()).text == "echo: /nosuchcommand"


async def test_a_wrong_argument_gets_a_usage_reply_that_says_what_was_wrong() -> None:
    bot = weather_bot()
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("/forecast soon paris")
        reply = await user.expect_reply()
        assert reply.text == "<days> must be a whole number (got “soon”).\nUsage: /forecast <days> <city...>"
        await user.send("forecast")
        reply = await user.expect_reply()
        assert reply.text == "Missing <days>.\nUsage: forecast <days> <city...>"
        await user.expect_no_reply()


async def test_help_lists_the_commands_from_their_docstrings_and_explains_one() -> None:
    bot = weather_bot()
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("help")
        assert (await user.expect_reply()).text == (
            "Commands:\n"
            "/weather <city...> — Current weather for a city.\n"
            "/forecast <days> <city...> — The forecast for the next days.\n"
            "/help [command] — List the commands, or explain one.\n"
            "Type /help <command> for more."
        )
        await user.send("/help w")
        assert (await user.expect_reply()).text == (
            "Usage: /weather <city...>\n"
            "Also: /w\n"
            "Current weather for a city.\n\n"
            "Type the city's name; quotes are not needed."
        )
        await user.send("help sailing")
        assert (await user.expect_reply()).text == "No command “sailing”. Type /help for the list."
