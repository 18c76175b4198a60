"""What ``linqbot dev BOT --say ...`` prints, as a user runs it: one typing line per stretch, and why a line went
unanswered when a handler raised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BOT = """
import asyncio

from linqbot import Bot

bot = Bot()

@bot.on_message(text="boom")
async def boom(ctx):
    raise ValueError("boom")

@bot.on_message()
async def answer(ctx):
    async with ctx.typing():  # e.g. around a model call ...
        async with ctx.typing():  # ... whose helper shows typing too: a second start, no message between
            await asyncio.sleep(0.05)
    await ctx.reply(["first", "second"])  # the pause before "second" is a new stretch of typing
"""


def say(tmp_path: Path, *sayings: str) -> subprocess.CompletedProcess[str]:
    bot_file = tmp_path / "bot.py"
    bot_file.write_text(BOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    args = [arg for text in sayings for arg in ("--say", text)]
    return subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "dev", f"{bot_file}:bot", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_typing_is_one_line_per_stretch_of_typing(tmp_path: Path) -> None:
    done = say(tmp_path, "hi", "again")

    assert done.returncode == 0, done.stderr
    answer = ["bot is typing…", "bot: first", "bot is typing…", "bot: second"]
    assert done.stdout.splitlines() == ["you: hi", *answer, "you: again", *answer]


def test_a_handler_that_raises_is_named_with_its_exception(tmp_path: Path) -> None:
    done = say(tmp_path, "boom", "hi")

    assert done.returncode == 1
    assert done.stdout.startswith("you: boom\n  (the handler raised ValueError: boom)\nyou: hi\n")
    assert "the bot did not answer 'boom' (the handler raised ValueError: boom)" in done.stderr


def test_a_long_script_reads_as_a_person_not_a_bot_to_bot_loop(tmp_path: Path) -> None:
    """Each line is said a few (emulated) seconds after the answer to the last: eight lines at machine speed tripped
    the loop breaker, and the last ones went unanswered."""
    sayings = [f"line {n}" for n in range(10)]
    done = say(tmp_path, *sayings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("bot: first\n") == len(sayings)
    assert "loop" not in done.stderr
