"""Commands end to end: a person texts the bot through the Linq emulator and reads what it answers."""

from __future__ import annotations

from typing import Any

import pytest
from linqbot_commands import Rest, configure

from linqbot import Bot, Context, Router
from linqbot.dispatch.middleware import Next
from linqbot.plugins import hookimpl
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


async def test_unknown_commands_can_get_a_reply_once_no_handler_took_the_message() -> None:
    bot = Bot(env_file=None, plugins="commands")

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        """Check the bot is there."""
        await ctx.reply("pong")

    @bot.on_message(text="thanks")
    async def thanks(ctx: Context) -> None:
        await ctx.reply("you're welcome")

    configure(bot, unknown="reply")
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("/pnig")
        assert (await user.expect_reply()).text == "Unknown command “/pnig” — type /help"
        await user.send("thanks")
        assert (await user.expect_reply()).text == "you're welcome"
        await user.send("Ping")
        assert (await user.expect_reply()).text == "pong"


async def test_the_unknown_fallback_can_be_a_function_and_switched_back_off() -> None:
    bot = Bot(env_file=None, plugins="commands")
    seen: list[str] = []

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    async def unknown(ctx: Context, name: str) -> None:
        seen.append(name)
        await ctx.reply(f"I only know ping, not {name}")

    configure(bot, prefixes=["!"], unknown=unknown)
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("!pong now")
        assert (await user.expect_reply()).text == "I only know ping, not pong"
        await user.send("ping")  # not a command without "!", and not "!"-prefixed: left alone
        await user.expect_no_reply()
        configure(bot, unknown="ignore")
        await user.send("!pong")
        await user.expect_no_reply()
        await user.send("!ping")
        assert (await user.expect_reply()).text == "pong"
    assert seen == ["pong"]


async def test_a_command_can_pass_the_message_on_with_skip() -> None:
    bot = Bot(env_file=None, plugins="commands")

    @bot.command("note")
    async def note(ctx: Context, text: Rest | None = None) -> None:
        """Save a note."""
        if text is None:
            ctx.skip()
        await ctx.reply(f"saved: {text}")

    @bot.on_message()
    async def chat(ctx: Context) -> None:
        await ctx.reply("just chatting")

    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("note")
        assert (await user.expect_reply()).text == "just chatting"
        await user.send("note buy milk")
        assert (await user.expect_reply()).text == "saved: buy milk"


async def test_a_routers_middleware_wraps_its_commands_and_the_invocation_is_on_ctx_data() -> None:
    bot = Bot(env_file=None, plugins="commands")
    admin = Router("admin")
    allowed = {"+15550100009"}

    @admin.middleware
    async def only_admins(ctx: Context, call_next: Next[Context]) -> Any:
        if ctx.sender not in allowed:
            return await ctx.reply(f"{ctx.data['command'].name} is for admins")
        return await call_next(ctx)

    @admin.command("shutdown")
    async def shutdown(ctx: Context) -> None:
        await ctx.reply("shutting down")

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    bot.include_router(admin)
    async with simulate(bot) as sim:
        stranger, boss = sim.user(PERSON), sim.user("+15550100009")
        await stranger.send("/Shutdown")
        assert (await stranger.expect_reply()).text == "Shutdown is for admins"
        await stranger.send("/ping")
        assert (await stranger.expect_reply()).text == "pong"
        await boss.send("/shutdown")
        assert (await boss.expect_reply()).text == "shutting down"


class WeatherPlugin:
    """A plugin contributing commands both ways: a router from linqbot_routers, and bot.command in linqbot_setup."""

    @hookimpl
    def linqbot_routers(self, bot: Bot) -> Router:
        router = Router("weather-plugin")

        @router.command("weather")
        async def weather(ctx: Context, city: Rest) -> None:
            """Current weather for a city."""
            await ctx.reply(f"Sunny in {city}")

        return router

    @hookimpl
    def linqbot_setup(self, bot: Bot) -> None:
        @bot.command("temp", hidden=True)
        async def temp(ctx: Context, celsius: float) -> None:
            """Celsius to Fahrenheit."""
            await ctx.reply(f"{celsius * 9 / 5 + 32:g}°F")


async def test_plugins_contribute_commands_through_routers_or_setup() -> None:
    bot = Bot(env_file=None, plugins=["commands", WeatherPlugin()])
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("weather oslo")
        assert (await user.expect_reply()).text == "Sunny in oslo"
        await user.send("temp 21.5")
        assert (await user.expect_reply()).text == "70.7°F"
        await user.send("help")
        listed = (await user.expect_reply()).text
    assert "/weather <city...> — Current weather for a city." in listed
    assert "temp" not in listed  # hidden


async def test_a_bots_own_help_command_replaces_the_built_in_one_and_help_can_be_off() -> None:
    bot = Bot(env_file=None, plugins="commands")

    @bot.command("help", aliases=["?"])
    async def my_help(ctx: Context) -> None:
        await ctx.reply("Text ping to check I'm here.")

    quiet = Bot(env_file=None, plugins="commands")
    configure(quiet, help=False)

    @quiet.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    @quiet.on_message(text="help")
    async def plain_help(ctx: Context) -> None:
        await ctx.reply("plain help")

    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("?")
        assert (await user.expect_reply()).text == "Text ping to check I'm here."
    async with simulate(quiet) as sim:
        user = sim.user(PERSON)
        await user.send("help")
        assert (await user.expect_reply()).text == "plain help"


async def test_a_bad_command_signature_or_a_clash_fails_start_up_naming_the_command() -> None:
    bot = Bot(env_file=None, plugins="commands")

    @bot.command("remind")
    async def remind(ctx: Context, when: list[str]) -> None: ...

    with pytest.raises(TypeError, match="command 'remind', parameter 'when': unsupported type"):
        await bot.startup()
    await bot.shutdown()

    clash = Bot(env_file=None, plugins="commands")
    other = Router("other")

    @clash.command("w")
    async def where(ctx: Context) -> None: ...

    @other.command("weather", aliases=["W"])
    async def weather(ctx: Context) -> None: ...

    clash.include_router(other)
    with pytest.raises(ValueError, match="command 'W' is declared twice"):
        await clash.startup()
    await clash.shutdown()


def test_command_names_must_be_single_words_and_handlers_async() -> None:
    router = Router()
    with pytest.raises(ValueError, match="one word"):
        router.command("check weather")
    with pytest.raises(TypeError, match="must be an async function"):
        router.command("ping")(lambda ctx: None)  # type: ignore[type-var]  # the mistake under test


def test_configure_needs_the_plugin_loaded() -> None:
    bot = Bot(env_file=None, plugins="-commands")
    with pytest.raises(RuntimeError, match="must include 'commands'"):
        configure(bot)
