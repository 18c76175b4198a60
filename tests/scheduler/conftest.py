"""A scheduler bot per test, its job store in a temp SQLite file (shared by restarts within the test), and for the
scaled-out tests a redis-server of the test's own, an emulator that several bots share, and a leader process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from linqbot_scheduler import BotScheduler, scheduler_of

from linqbot import Bot
from linqbot.emulator import Emulator
from linqbot.inbox.redis_store import RedisStore
from tests.durability.conftest import REPO, RedisServer, poll_until

LEADER_SCRIPT = Path(__file__).with_name("leader_process.py")


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


@dataclass
class Gate:
    """Holds a job's run open: the run says it started, then waits until the test releases it."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hold(self) -> None:
        """Called by the job: started, then wait for the release."""
        self.started.set()
        await self.release.wait()


GATES: dict[str, Gate] = {}
"""Each test's gate by token (a stored job's arguments must pickle; its events belong to that test's loop)."""


@pytest.fixture
def gate() -> Iterator[str]:
    token = uuid.uuid4().hex
    GATES[token] = Gate()
    try:
        yield token
    finally:
        del GATES[token]


LEASE = 1.0
"""Seconds of leadership lease in these tests (the inbox's lock_ttl), so a takeover takes about a second."""


def scaled_out_bot(redis_url: str, emu: Emulator, lease: float = LEASE) -> Bot:
    """One process of a scaled-out bot: the scheduler plugin on a shared Redis inbox, talking to ``emu``."""
    return Bot(
        env_file=None,
        plugins=["scheduler"],
        inbox=RedisStore(redis_url, lock_ttl=lease),
        api_key=emu.api_key,
        base_url=emu.base_url,
        webhook_secret="scale-out-secret",
        phone_number=emu.line,
    )


async def start_leading(bot: Bot) -> BotScheduler:
    """Start ``bot`` (a lone process on its Redis) and wait until its scheduler leads."""
    await bot.startup()
    scheduler = scheduler_of(bot)
    await poll_until(lambda: scheduler.leading, 10, "the bot leads")
    return scheduler


@dataclass
class Leader:
    """The leader process (leader_process.py) and everything it printed so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stopped(self) -> bool:
        """The process is stopped by a signal (state T in /proc)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "T"


@contextlib.asynccontextmanager
async def leader_process(redis_url: str, emu: Emulator, stall_before_send: int | None = None) -> AsyncIterator[Leader]:
    """The scheduler's leader as a real process (so it can die or stall without stepping down), once it leads;
    killed on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_", "STALL_"))}
    env |= {
        "LINQ_API_KEY": emu.api_key,
        "LINQ_BASE_URL": emu.base_url,
        "LINQ_WEBHOOK_SECRET": "scale-out-secret",
        "LINQ_PHONE_NUMBER": emu.line,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]),
    }
    if stall_before_send is not None:
        env["STALL_BEFORE_SEND"] = str(stall_before_send)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(LEADER_SCRIPT), redis_url, env=env, stdout=PIPE, stderr=STDOUT
    )
    leader = Leader(process)

    async def read() -> None:
        assert process.stdout is not None
        while line := (await process.stdout.readline()).decode():
            leader.lines.append(line)

    reader = asyncio.get_running_loop().create_task(read())
    try:
        await poll_until(lambda: leader.printed("this process leads") or reader.done(), 20, "the leader leads")
        assert leader.printed("this process leads"), "the leader process exited:\n" + "".join(leader.lines)
        yield leader
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.kill()
        await process.wait()
        await reader
