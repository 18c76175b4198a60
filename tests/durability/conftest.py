"""Real parts for the durability tests: a redis-server of our own, the bot as a child process, the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from linq import AsyncLinqAPIV3

from linqbot import Bot
from linqbot.emulator import Emulator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CRASH_BOT = HERE / "crash_bot.py"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs real processes for tens of seconds (still part of CI)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server on a free loopback port in a temp dir, persisting with AOF so a restart loses nothing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class BotProcess:
    """``python -m linqbot.cli run tests/durability/crash_bot.py`` (or ``script``) on a fixed port, restartable."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path, script: Path = CRASH_BOT) -> None:
        self.env = env
        self.script = script
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "linqbot.cli",
                    "run",
                    str(self.script),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                cwd=self.log_path.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    async def start(self, timeout: float = 20.0) -> None:
        self.spawn()
        await self.wait_healthy(timeout)

    async def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                assert self.process is not None and self.process.poll() is None, self.log_tail()
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    self.process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                    self.process.wait(10)
                    raise TimeoutError(f"bot on port {self.port} never became healthy\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        process = self.process
        code: int = await asyncio.wait_for(asyncio.to_thread(process.wait), timeout)
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def outbound_count(emu: Emulator) -> int:
    """Messages the bot has sent so far (cheap: no views are built)."""
    return sum(1 for m in emu.engine.state.messages.values() if m.direction == "outbound")


async def poll_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Re-check ``predicate`` every 50 ms (for conditions too costly to re-evaluate on every emulator change)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        await asyncio.sleep(0.05)


def bot_env(emu: Emulator, secret: str, **extra: str) -> dict[str, str]:
    """The environment a bot process needs to talk to ``emu``; nothing of the developer's own leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env.update(
        {
            "LINQ_API_KEY": emu.api_key,
            "LINQ_BASE_URL": emu.base_url,
            "LINQ_WEBHOOK_SECRET": secret,
            "LINQ_PHONE_NUMBER": emu.line,
            "PYTHONFAULTHANDLER": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    env.update(extra)
    return env


async def subscribe(emu: Emulator, target_url: str, events: list[str] | None = None) -> str:
    """Create a webhook subscription on the emulator; returns its signing secret."""
    sdk = AsyncLinqAPIV3(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
    try:
        subscription: Any = await sdk.webhook_subscriptions.create(
            target_url=target_url, subscribed_events=events or ["message.received"]
        )
    finally:
        await sdk.close()
    return str(subscription.signing_secret)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An emulator with a Linq-like, long retry schedule (compressed) and no auto-read noise."""
    emu = Emulator(webhook_attempts=40, webhook_backoff=0.2, webhook_backoff_max=2.0, read_delay=0)
    await emu.start("127.0.0.1")
    try:
        yield emu
    finally:
        await emu.stop()


@contextlib.asynccontextmanager
async def serve_bot(
    bot: Bot, emu: Emulator, *, api_base_url: str | None = None, events: list[str] | None = None
) -> AsyncIterator[str]:
    """The bot's webhook server in this process, subscribed on ``emu``; yields the webhook URL.

    ``api_base_url`` points the bot's API client elsewhere (e.g. a fault-injecting proxy in front of ``emu``).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}{bot.webhook_path}"
    secret = await subscribe(emu, url, events)
    bot.configure(
        api_key=emu.api_key, base_url=api_base_url or emu.base_url, webhook_secret=secret, phone_number=emu.line
    )
    runner = web.AppRunner(bot.app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield url
    finally:
        await runner.cleanup()
