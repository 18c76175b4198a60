"""Outreach fixtures: a campaign database per test, an auto-advancing clock, recipients in chosen time zones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from linqbot_outreach import Recipient

from linqbot import Bot

START = datetime.fromisoformat("2026-03-10T15:00:00+00:00")
"""11:00 in New York, 00:00 the next day in Tokyo."""


class FastClock:
    """Injected campaign time: ``sleep`` moves time forward at once, so hours of pacing and quiet hours pass at once."""

    def __init__(self, start: datetime = START) -> None:
        self.at = start.timestamp()
        self.slept: list[float] = []

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += max(seconds, 0.0)
        await asyncio.sleep(0)

    def set(self, moment: datetime) -> None:
        self.at = moment.timestamp()


@pytest.fixture
def campaign_db(tmp_path: Path, linq_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "outreach.sqlite3"
    monkeypatch.setenv("LINQBOT_OUTREACH_DB", str(path))
    return path


def outreach_bot(**options: object) -> Bot:
    return Bot(env_file=None, plugins=["outreach"], **options)  # type: ignore[arg-type]


def people(count: int, *, timezone: str | None = "America/New_York", first: int = 100) -> list[Recipient]:
    return [
        Recipient(f"+1555010{first + n:04d}", {"first_name": f"Person{n}"}, timezone, row=n + 2) for n in range(count)
    ]


def handles(recipients: Sequence[Recipient]) -> list[str]:
    return [r.handle for r in recipients]
