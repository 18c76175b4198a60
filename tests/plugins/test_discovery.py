"""Finding plugins: entry points load by themselves, LINQBOT_PLUGINS / plugins= choose, broken plugins are skipped."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from linqbot import Bot, Context, Router
from linqbot.cli import main
from linqbot.plugins import PluginError, PluginManager, hookimpl
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")

PERSON = "+15550100002"
FIRST_PARTY = {"commands", "state", "scheduler", "outreach"}


def loaded(manager: PluginManager) -> set[str]:
    return {info.name for info in manager.describe()}


def test_installed_plugins_load_by_themselves() -> None:
    assert FIRST_PARTY <= loaded(PluginManager())


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("commands", {"commands"}),
        ("commands, state", {"commands", "state"}),
        ("-outreach", FIRST_PARTY - {"outreach"}),
        ("-outreach,-scheduler", FIRST_PARTY - {"outreach", "scheduler"}),
    ],
)
def test_a_selection_restricts_or_disables(selection: str, expected: set[str]) -> None:
    assert loaded(PluginManager(selection)) == expected


def test_the_environment_selects_and_bot_plugins_overrides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQBOT_PLUGINS", "state")
    assert loaded(Bot(env_file=None).plugins) == {"state"}
    assert loaded(Bot(env_file=None, plugins="commands").plugins) == {"commands"}


def test_a_module_is_added_by_import_path(plugin_module: Callable[[str, str], str]) -> None:
    name = plugin_module(
        "extra_plugin",
        """
        from linqbot.plugins import hookimpl

        @hookimpl
        def linqbot_setup(bot):
            bot.extra_loaded = True
        """,
    )
    manager = PluginManager(f"commands,+{name}")
    assert loaded(manager) == {"commands", name}
    assert [info.hooks for info in manager.describe() if info.name == name] == [("linqbot_setup",)]
    assert loaded(PluginManager(f"+{name}")) == FIRST_PARTY | {name}


BROKEN_PLUGINS = {
    "raises_at_import": """
        raise RuntimeError("no config for raises_at_import")
    """,
    "wrong_arguments": """
        from linqbot.plugins import hookimpl

        @hookimpl
        def linqbot_setup(robot):
            pass
    """,
    "misspelt_hook": """
        from linqbot.plugins import hookimpl

        @hookimpl
        def linqbot_stratup(bot):
            pass
    """,
}


def write_broken(plugin_module: Callable[[str, str], str]) -> str:
    return ",".join(f"+{plugin_module(name, source)}" for name, source in BROKEN_PLUGINS.items())


async def test_broken_plugins_are_reported_by_name_and_the_bot_still_answers(
    plugin_module: Callable[[str, str], str], caplog: pytest.LogCaptureFixture
) -> None:
    bot = Bot(env_file=None, plugins="commands," + write_broken(plugin_module))

    @bot.command("ping")
    async def ping(ctx: Context) -> None:
        await ctx.reply("pong")

    failed = bot.plugins.failed
    assert set(failed) == set(BROKEN_PLUGINS)
    assert failed["raises_at_import"] == "RuntimeError: no config for raises_at_import"
    assert "robot" in failed["wrong_arguments"]
    assert failed["misspelt_hook"] == "LookupError: implements unknown hook(s) linqbot_stratup"
    assert loaded(bot.plugins) == {"commands"}
    assert {r.getMessage().split()[1] for r in caplog.records if r.name == "linqbot.plugins"} >= set(BROKEN_PLUGINS)
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("/ping")
        assert (await user.expect_reply()).text == "pong"


SETUP_FAILURES = {
    "setup_raises": """
        from linqbot.plugins import hookimpl

        @hookimpl
        def linqbot_setup(bot):
            raise KeyError("MY_PLUGIN_TOKEN")
    """,
    "routers_raise": """
        from linqbot.plugins import hookimpl

        def build():
            raise ValueError("no such template")

        @hookimpl
        def linqbot_routers(bot):
            return build()
    """,
}


@pytest.mark.parametrize("name", sorted(SETUP_FAILURES))
def test_a_plugin_raising_while_setting_up_stops_the_bot_naming_it(
    plugin_module: Callable[[str, str], str], name: str
) -> None:
    module = plugin_module(name, SETUP_FAILURES[name])
    with pytest.raises(PluginError) as raised:
        Bot(env_file=None, plugins=f"commands,+{module}")
    assert raised.value.plugin == module
    assert str(raised.value).startswith(f"plugin {module} failed while setting up the bot: ")
    assert isinstance(raised.value.__cause__, (KeyError, ValueError))


def logged(hook: Any) -> Any:
    """A decorator several plugins share: its wrapper's code is the same object in all of them."""

    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return hook(*args, **kwargs)

    return wrapper


def test_the_plugin_blamed_is_the_one_that_raised_even_behind_a_shared_decorator() -> None:
    class Broken:
        @hookimpl
        @logged
        def linqbot_setup(self, bot: Bot) -> None:
            raise RuntimeError("no token")

    class Fine:
        @hookimpl
        @logged
        def linqbot_setup(self, bot: Bot) -> None:
            pass

    with pytest.raises(PluginError) as raised:
        Bot(env_file=None, plugins=[Broken(), Fine()])
    assert raised.value.plugin == "Broken"


def test_an_error_outside_plugin_code_is_not_blamed_on_a_plugin() -> None:
    class ReturnsARouterTwice:
        def __init__(self) -> None:
            self.router = Router("shared")

        @hookimpl
        def linqbot_routers(self, bot: Bot) -> list[Router]:
            return [self.router, self.router]

    with pytest.raises(ValueError, match="already included"):
        Bot(env_file=None, plugins=[ReturnsARouterTwice()])


def test_the_cli_lists_loaded_plugins_with_their_hooks_and_failures(
    plugin_module: Callable[[str, str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins", "--select", "commands,state"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith(
        "commands  (linqbot_commands)\n    linqbot_setup\n    linqbot_startup\nstate  (linqbot_state)"
    )
    assert "outreach" not in listing

    assert main(["plugins", "--select", "commands," + write_broken(plugin_module)]) == 1
    listing = capsys.readouterr().out
    assert "raises_at_import  FAILED TO LOAD: RuntimeError: no config for raises_at_import" in listing
    assert "misspelt_hook  FAILED TO LOAD: LookupError: implements unknown hook(s) linqbot_stratup" in listing
    assert "wrong_arguments  FAILED TO LOAD:" in listing


def test_a_dropped_name_no_plugin_has_is_listed_as_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--select=-outreech"]) == 0
    assert "-outreech  IGNORED: not an installed plugin (did you mean outreach?)" in capsys.readouterr().out


def test_a_command_missing_because_its_plugin_failed_to_load_says_why(
    plugin_module: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = plugin_module("raises_at_import", BROKEN_PLUGINS["raises_at_import"])
    monkeypatch.setenv("LINQBOT_PLUGINS", f"+{broken}")
    with pytest.raises(SystemExit) as usage:
        main(["campaigns", "list"])  # a command the plugin would have added
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'campaigns'" in err
    reason = "RuntimeError: no config for raises_at_import"
    assert f"linqbot: plugin {broken} failed to load, so its commands are missing: {reason}" in err


class Lifecycle:
    """A plugin whose start-up, shut-down, event and error hooks are all async."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    async def linqbot_startup(self, bot: Bot) -> None:
        self.calls.append("startup")

    @hookimpl
    async def linqbot_shutdown(self, bot: Bot) -> None:
        self.calls.append("shutdown")

    @hookimpl
    async def linqbot_event(self, ctx: Context) -> None:
        self.calls.append(f"event {ctx.event.event_type}")

    @hookimpl
    async def linqbot_handle_error(self, ctx: Context, error: Exception) -> bool:
        await ctx.reply(f"Sorry, that went wrong ({error})")
        return True


async def test_async_hook_implementations_are_awaited() -> None:
    plugin = Lifecycle()
    bot = Bot(env_file=None, plugins=["commands", plugin])

    @bot.command("fail")
    async def fail(ctx: Context) -> Any:
        raise RuntimeError("boom")

    async with simulate(bot) as sim:
        assert plugin.calls == ["startup"]
        user = sim.user(PERSON)
        await user.send("/fail")
        assert (await user.expect_reply()).text == "Sorry, that went wrong (boom)"
        await sim.idle()
        assert "event message.received" in plugin.calls
        assert "shutdown" not in plugin.calls
    assert plugin.calls[-1] == "shutdown"


@pytest.mark.usefixtures("hello_installed")
async def test_an_installed_community_plugin_is_discovered_and_answers_its_command() -> None:
    assert "hello" in loaded(PluginManager())
    bot = Bot(env_file=None, plugins="commands,hello")
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("/hello Ana")
        assert (await user.expect_reply()).text == "Hello, Ana! (message 1 from you)"
        await user.send("hi")
        assert (await user.expect_reply()).text == "Hello, there! (message 2 from you)"
        await user.send("help")
        assert "/hello [name] — Say hello (to a name, if you give one)." in (await user.expect_reply()).text
    assert "hello" not in loaded(PluginManager("-hello"))


def test_linqbot_plugins_shows_the_installed_community_plugin(hello_site: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINQBOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(hello_site), env.get("PYTHONPATH", "")])
    shown = subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "plugins"], env=env, capture_output=True, text=True, check=False
    )
    assert "hello  (linqbot_hello)\n    linqbot_middleware\n    linqbot_routers\n" in shown.stdout
    assert FIRST_PARTY <= {line.split()[0] for line in shown.stdout.splitlines() if not line.startswith(" ")}
