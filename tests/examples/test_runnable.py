"""Every example runs as its docstring says: ``linqbot dev examples/x.py --say ...`` answers on the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import EXAMPLES

FIRST_EXCHANGE = {
    "echo_bot.py": ("hello", "bot: You said: hello"),
    "command_menu.py": ("menu", "bot: Today's menu:"),
    "survey_bot.py": ("survey", "bot: Thanks for helping! What's your first name?"),
    "reminders_bot.py": ("remind me in 5 minutes to stretch", "bot: OK! I'll remind you to stretch in 5 minutes."),
    "ai_assistant.py": ("what can you do?", "bot: I'm a demo assistant running a tiny local model."),
    "group_bot.py": ("pick tea or coffee", "bot: I pick "),
    "media_bot.py": ("send me a picture", "bot: Here's a cat for you 🐱"),
    "outreach/tasting_bot.py": ("hello", "bot: Hi! Text us any time to book a table."),
}


def test_every_example_is_listed() -> None:
    examples = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.py") if "community_plugin" not in p.parts}
    assert examples == set(FIRST_EXCHANGE)


@pytest.mark.parametrize("example", sorted(FIRST_EXCHANGE))
def test_runs_with_linqbot_dev(example: str) -> None:
    say, expected = FIRST_EXCHANGE[example]
    done = subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "dev", str(EXAMPLES / example), "--say", say],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
