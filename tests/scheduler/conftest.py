"""A scheduler bot per test, its job store in a temp SQLite file (shared by restarts within the test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from linqbot import Bot


@pytest.fixture
def jobs_url(tmp_path: Path, linq_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    monkeypatch.setenv("LINQBOT_SCHEDULER_URL", url)
    return url


def scheduler_bot() -> Bot:
    return Bot(env_file=None, plugins=["scheduler"])
