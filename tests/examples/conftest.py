"""Each example is loaded from its file exactly as `linqbot dev examples/x.py` loads it, and run in a temp folder
with memory/temp stores, so a test leaves nothing behind in the checkout."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from linqbot import Bot
from linqbot.cli import load_bot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, linq_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINQBOT_STATE_URL", "memory://")
    monkeypatch.setenv("LINQBOT_SCHEDULER_URL", f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    monkeypatch.setenv("LINQBOT_OUTREACH_DB", str(tmp_path / "outreach.sqlite3"))


def load_example(relative: str) -> tuple[Bot, ModuleType]:
    """A fresh Bot from ``examples/<relative>`` and the module defining it."""
    path = EXAMPLES / relative
    bot = load_bot(str(path))
    return bot, sys.modules[path.stem]
