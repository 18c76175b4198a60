"""A mistyped plugin selection: reported once, as a logged error suggesting the installed name, and a bot whose
commands can no longer answer says so at start-up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from linqbot import Bot, Context
from linqbot.plugins import PluginManager
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")

REPO = Path(__file__).resolve().parents[2]

COMMAND_BOT = """\
from linqbot import Bot

bot = Bot(env_file=None)

@bot.command("weather")
async def weather(ctx, city: str):
    \"\"\"The weather in a city.\"\"\"
    await ctx.reply(f"Sunny in {city}")
"""


def test_a_misspelt_plugin_name_suggests_the_installed_one(caplog: pytest.LogCaptureFixture) -> None:
    manager = PluginManager("commnds,state")

    reason = "LookupError: no installed plugin or module named 'commnds'; did you mean commands?"
    assert manager.failed == {"commnds": reason}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"plugin commnds failed to load and was skipped: {reason}"]


def test_dropping_a_name_no_plugin_has_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    manager = PluginManager("-outreech")
    assert "outreach" in {info.name for info in manager.describe()}  # nothing was dropped ...
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["plugin selection drops -outreech, which is not an installed plugin (did you mean outreach?)"]


def test_a_name_like_no_installed_plugin_lists_the_installed_ones() -> None:
    reason = PluginManager("+zzz_nothing_like").failed["zzz_nothing_like"]
    assert reason.startswith("LookupError: no installed plugin or module named 'zzz_nothing_like'; installed plugins: ")
    assert "commands, outreach, scheduler, state" in reason


def test_a_plugin_that_imports_something_missing_keeps_its_own_error(
    plugin_module: Callable[[str, str], str],
) -> None:
    name = plugin_module("needs_a_dependency", "import dependency_nobody_wrote\n")
    assert PluginManager(f"+{name}").failed[name] == "ModuleNotFoundError: No module named 'dependency_nobody_wrote'"


def dead_command_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return [message for message in warnings if "commands plugin" in message]


async def test_commands_without_the_commands_plugin_are_named_in_one_warning_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = Bot(env_file=None, plugins="state")

    @bot.command("weather")
    async def weather(ctx: Context, city: str) -> None:
        await ctx.reply(city)

    @bot.command("forecast")
    async def forecast(ctx: Context, city: str) -> None:
        await ctx.reply(city)

    async with simulate(bot):
        pass

    [warning] = dead_command_warnings(caplog)
    assert "these commands will never answer: weather, forecast;" in warning
    assert "add 'commands' to LINQBOT_PLUGINS" in warning


async def test_no_warning_when_the_commands_plugin_is_loaded(caplog: pytest.LogCaptureFixture) -> None:
    bot = Bot(env_file=None, plugins="commands")

    @bot.command("weather")
    async def weather(ctx: Context, city: str) -> None:
        await ctx.reply(city)

    async with simulate(bot):
        pass

    assert dead_command_warnings(caplog) == []


def test_linqbot_dev_with_a_misspelt_selection_logs_the_error_once_then_the_dead_commands(tmp_path: Path) -> None:
    (tmp_path / "command_bot.py").write_text(COMMAND_BOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["LINQBOT_PLUGINS"] = "commnds"

    done = subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "dev", "command_bot.py", "--say", "weather paris", "--timeout", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    failures = [line for line in done.stderr.splitlines() if "plugin commnds failed to load" in line]
    assert len(failures) == 1, done.stderr
    assert " ERROR linqbot.plugins: plugin commnds failed to load and was skipped: " in failures[0]
    assert failures[0].endswith("did you mean commands?")
    assert "WARNING linqbot: the commands plugin is not loaded, so these commands will never answer: weather;" in (
        done.stderr
    )
