"""A scheduler bot per test, its job store in a temp SQLite file (shared by restarts within the test), and for the
scaled-out tests a redis-server of the test's own plus an emulator that several bots share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from linqbot import Bot
from linqbot.emulator import Emulator
from linqbot.inbox.redis_store import RedisStore
from tests.durability.conftest import RedisServer


@pytest.fixture
def jobs_url(tmp_path: Path, linq_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    monkeypatch.setenv("LINQBOT_SCHEDULER_URL", url)
    return url


def scheduler_bot() -> Bot:
    return Bot(env_file=None, plugins=["scheduler"])


@pytest.fixture
def redis_server(redis_server: RedisServer, linq_env: None) -> RedisServer:
    """The shared redis-server fixture, with the Linq settings the scheduler's bots read."""
    return redis_server


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(read_delay=0)
    await emu.start("127.0.0.1")
    try:
        yield emu
    finally:
        await emu.stop()


LEASE = 1.0
"""Seconds of leadership lease in these tests (the inbox's lock_ttl), so a takeover takes about a second."""


def scaled_out_bot(redis_url: str, emu: Emulator) -> Bot:
    """One process of a scaled-out bot: the scheduler plugin on a shared Redis inbox, talking to ``emu``."""
    return Bot(
        env_file=None,
        plugins=["scheduler"],
        inbox=RedisStore(redis_url, lock_ttl=LEASE),
        api_key=emu.api_key,
        base_url=emu.base_url,
        webhook_secret="scale-out-secret",
        phone_number=emu.line,
    )
