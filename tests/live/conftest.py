"""The live commands run against the emulator: LINQ_BASE_URL points at it, as a user would point it at Linq."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from linqbot.cli import main
from linqbot.emulator import Emulator


@dataclass
class Result:
    status: int
    out: str
    err: str


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator() as emu:
        yield emu


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with no .env and none of the developer's own settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("LINQ_API_KEY", "LINQ_API_V3_API_KEY", "LINQ_BASE_URL", "LINQ_WEBHOOK_SECRET", "LINQ_PHONE_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def live_env(emulator: Emulator, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("LINQ_API_KEY", emulator.api_key)
    monkeypatch.setenv("LINQ_BASE_URL", emulator.base_url)
    return emulator


async def linqbot(*argv: str) -> Result:
    """Run the ``linqbot`` command in a thread (it runs its own event loop) while this loop serves the emulator."""
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(list(argv))

    status = await asyncio.to_thread(run)
    return Result(status, out.getvalue(), err.getvalue())
