"""A bot file that raises while being imported: every command that loads a bot exits 2 naming the file and the
error, with the traceback from the user's own line down (not the CLI's frames)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from linqbot.cli import main

REPO = Path(__file__).resolve().parents[2]

TYPO_BOT = """\
from linqbot import Bot

bot = Bot(env_file=None)

@bot.on_message(startwith="x")
async def greet(ctx):
    await ctx.reply("hi")
"""

MISSING_IMPORT_BOT = """\
from linqbot import Bot
import helpers_nobody_wrote

bot = Bot(env_file=None)
"""

COMMANDS = {
    "run": ["run", "{bot}"],
    "dev": ["dev", "{bot}", "--say", "hi"],
    "send": ["send", "--bot", "{bot}", "--to", "+15550100002", "hi"],
    "outreach": ["outreach", "run", "people.csv", "--bot", "{bot}", "--id", "c1", "--template", "Hi"],
}


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bot_raising_at_import_exits_2_naming_the_file_and_the_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "typo_bot.py", TYPO_BOT)

    assert main([arg.format(bot="typo_bot.py") for arg in COMMANDS[command]]) == 2

    err = capsys.readouterr().err
    *trace, last = err.splitlines()
    assert last.startswith("linqbot: cannot load typo_bot.py: TypeError: unknown filter startwith=")
    assert trace[:3] == [
        "Traceback (most recent call last):",
        f'  File "{tmp_path / "typo_bot.py"}", line 5, in <module>',
        '    @bot.on_message(startwith="x")',
    ]
    assert "cli.py" not in err


def test_an_import_error_inside_the_bot_is_the_bots_error_not_a_missing_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = write(tmp_path, "needs_helpers_bot.py", MISSING_IMPORT_BOT)

    assert main(["run", str(bot)]) == 2

    err = capsys.readouterr().err
    assert err.endswith(f"linqbot: cannot load {bot}: ModuleNotFoundError: No module named 'helpers_nobody_wrote'\n")
    assert f'File "{bot}", line 2, in <module>\n    import helpers_nobody_wrote\n' in err


def test_a_module_target_raising_at_import_shows_its_traceback_but_a_missing_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path, "raising_bot_module.py", "raise RuntimeError('no token for the weather API')\n")

    assert main(["run", "raising_bot_module"]) == 2
    err = capsys.readouterr().err
    assert "line 1, in <module>" in err
    assert err.endswith("linqbot: cannot load raising_bot_module: RuntimeError: no token for the weather API\n")

    assert main(["run", "no_such_bot_module"]) == 2
    assert capsys.readouterr().err == (
        "linqbot: cannot import module 'no_such_bot_module': No module named 'no_such_bot_module'\n"
    )


def test_linqbot_dev_as_a_process_exits_2_with_the_users_line(tmp_path: Path) -> None:
    write(tmp_path, "typo_bot.py", TYPO_BOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])

    done = subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "dev", "typo_bot.py", "--say", "hi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr.startswith(f'Traceback (most recent call last):\n  File "{tmp_path / "typo_bot.py"}", line 5')
    assert done.stderr.splitlines()[-1].startswith("linqbot: cannot load typo_bot.py: TypeError: unknown filter")
