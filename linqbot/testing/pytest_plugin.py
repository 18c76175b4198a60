"""The pytest plugin registered under ``pytest11``: fixtures for testing bots against the emulator.

Define a ``bot`` fixture returning your `Bot`; then ``linq_sim`` is a running `Simulation` of it::

    @pytest.fixture
    def bot():
        from mybot import bot
        return bot

    async def test_greets(linq_sim):
        user = linq_sim.user("+15550100002")
        await user.send("hi")
        assert (await user.expect_reply()).text == "Hello!"
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from linqbot.bot import Bot
from linqbot.emulator import Emulator
from linqbot.local_files import HOME_SETTING
from linqbot.testing.simulation import Simulation, simulate


@pytest.fixture
async def linq_emulator() -> AsyncIterator[Emulator]:
    """A running Linq emulator on 127.0.0.1 (a free port), stopped after the test."""
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def linq_sim(
    request: pytest.FixtureRequest, linq_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Simulation]:
    """Your ``bot`` fixture, served and wired to ``linq_emulator``; its local files (state, scheduled jobs,
    campaigns) go to the test's own temporary folder, never to your project's ``.linqbot/``."""
    monkeypatch.setenv(HOME_SETTING, str(tmp_path / ".linqbot"))
    bot = request.getfixturevalue("bot")
    if not isinstance(bot, Bot):
        raise TypeError("the linq_sim fixture needs a `bot` fixture that returns a linqbot.Bot")
    async with simulate(bot, emulator=linq_emulator) as sim:
        yield sim
