"""A key Linq rejects stops ``linqbot run`` soon after start-up — exit status 2 and one line naming the setting —
while Linq merely unreachable does not (the bot keeps taking webhooks and retries its calls)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from linqbot import Bot
from linqbot.config import ConfigError
from linqbot.emulator import Emulator
from linqbot.outbound import OutboundCall, RetryPolicy
from linqbot.outbound.errors import Unauthorized
from linqbot.outbound.pipeline import Next

pytestmark = pytest.mark.usefixtures("linq_env")

REPO = Path(__file__).resolve().parents[2]
WRONG_KEY = "sk-wrong-key-0123456789"
BOT = """\
from linqbot import Bot
from linqbot.config import ConfigError

bot = Bot(env_file=None)
"""


@pytest.fixture(autouse=True)
def ask_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, the second ask after a 401 comes at once (`linqbot run` processes wait the real 2 s)."""
    monkeypatch.setattr("linqbot.middleware.health.REJECTED_KEY_RECHECK", 0.0)


async def start_up_reads(bot: Bot) -> None:
    """Start ``bot``, wait for its start-up reads (line reputation, in the background), stop it."""
    await bot.startup()
    try:
        await bot.safeguards.started()
    finally:
        await bot.shutdown()


async def test_linqbot_run_with_a_rejected_key_exits_2_naming_the_setting(tmp_path: Path) -> None:
    bot_file = tmp_path / "bot.py"
    bot_file.write_text(BOT)
    async with Emulator() as emulator:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "linqbot.cli", "run", str(bot_file), "--host", "127.0.0.1", "--port", "0",
            cwd=tmp_path, env={**os.environ, "LINQ_BASE_URL": emulator.base_url, "LINQ_API_KEY": WRONG_KEY,
                               "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])},
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert lines[-1].startswith("linqbot: LINQ_API_KEY was rejected by Linq: "), lines[-3:]
    assert WRONG_KEY not in err.decode()


async def test_served_otherwise_a_rejected_key_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    async with Emulator() as emulator:
        bot = Bot(env_file=None, base_url=emulator.base_url, api_key=WRONG_KEY)
        await start_up_reads(bot)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(message.startswith("LINQ_API_KEY was rejected by Linq") for message in errors)


async def test_linq_unreachable_at_start_up_is_only_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    bot = Bot(env_file=None, retry=RetryPolicy(max_attempts=1))  # LINQ_BASE_URL: a closed port (linq_env)
    await start_up_reads(bot)
    assert any("could not read line reputation" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_single_401_is_asked_again_before_the_bot_stops_over_it(caplog: pytest.LogCaptureFixture) -> None:
    """A hiccup in Linq's auth must not take a bot down (a service manager would not restart it after exit 2)."""
    async with Emulator() as emulator:
        bot = Bot(env_file=None, base_url=emulator.base_url, api_key=WRONG_KEY)

        async def linq_fixes_its_hiccup(call: OutboundCall, call_next: Next) -> Any:
            try:
                return await call_next(call)
            except Unauthorized:
                emulator.config.api_key = WRONG_KEY  # the next call is accepted
                raise

        bot.outbound_middleware.add(linq_fixes_its_hiccup)
        await start_up_reads(bot)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_failure_from_an_earlier_run_of_the_same_bot_does_not_stop_the_next() -> None:
    bot = Bot(env_file=None, retry=RetryPolicy(max_attempts=1))
    bot.fail(ConfigError("from an earlier run"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serving = asyncio.create_task(bot.serve("127.0.0.1", port))
    async with aiohttp.ClientSession() as http:

        async def health() -> int | None:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    return answer.status
            except aiohttp.ClientConnectionError:
                return None

        status = None
        while status is None and not serving.done():
            status = await health()
        assert status == 200, "the bot serves (it stopped at once over the earlier run's failure)"
    bot.fail(ConfigError("found in this run"))
    with pytest.raises(ConfigError, match="found in this run"):
        await asyncio.wait_for(serving, 30)
