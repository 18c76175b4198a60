"""``linqbot dev`` as a user runs it: a real subprocess, the headless ``--say`` mode, and the server until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[2]
ECHO_BOT = REPO / "examples" / "echo_bot.py"
TIMEOUT = 60

SILENT_BOT = """
from linqbot import Bot

bot = Bot()

@bot.on_message(text="ping")
async def pong(ctx):
    await ctx.reply("pong")
"""


def clean_env() -> dict[str, str]:
    """The developer's own Linq settings must not matter: `linqbot dev` points the bot at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env["LINQ_API_KEY"] = "a-real-looking-key-that-must-not-be-used"
    env["LINQ_BASE_URL"] = "http://127.0.0.1:9/api/partner"
    return env


@contextlib.asynccontextmanager
async def interactive_dev(target: Path = ECHO_BOT, logs: bool = False) -> AsyncIterator[asyncio.subprocess.Process]:
    """``linqbot dev TARGET`` on free ports as a real process (stdout piped, logs piped or dropped); killed if left
    running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linqbot.cli", "dev", str(target), "--port", "0", "--bot-port", "0",
        cwd=REPO, env=clean_env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if logs else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def linqbot_dev(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linqbot.cli", "dev", *args],
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_say_prints_the_conversation_and_exits_0_when_every_message_is_answered() -> None:
    done = linqbot_dev(str(ECHO_BOT), "--say", "hello", "--say", "congrats on the launch!")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "you: hello"
    assert "bot is typing…" in lines
    assert "bot reacted 👍 to 'hello'" in lines
    assert lines.index("you: hello") < lines.index("bot: You said: hello") < lines.index("you: congrats on the launch!")
    assert "bot: You said: congrats on the launch! (sent with confetti)" in lines
    assert "  (read: 'hello')" in lines


def test_say_exits_non_zero_naming_the_messages_the_bot_left_unanswered(tmp_path: Path) -> None:
    bot_file = tmp_path / "silent_bot.py"
    bot_file.write_text(SILENT_BOT)

    done = linqbot_dev(f"{bot_file}:bot", "--say", "ping", "--say", "anyone there?", "--from", "+15550100042")

    assert done.returncode == 1
    assert "you: ping\nbot: pong\nyou: anyone there?\n" in done.stdout
    assert "the bot did not answer 'anyone there?'" in done.stderr
    assert "'ping'" not in done.stderr


COUNTING_BOT = """
from linqbot import Bot

bot = Bot()

@bot.on_message()
async def count(ctx):
    visits = await ctx.person_state.get("visits", 0) + 1
    await ctx.person_state.set("visits", visits)
    await ctx.reply(f"visit {visits}")
"""


def test_each_session_starts_with_fresh_local_files_unless_home_keeps_them(tmp_path: Path) -> None:
    """The emulator starts empty every run; state and jobs a session left in .linqbot/ (or in a LINQBOT_HOME set for
    `linqbot run`) outlived its chats, and would have reached `linqbot run`."""
    bot_file = tmp_path / "counting_bot.py"
    bot_file.write_text(COUNTING_BOT)
    production = tmp_path / "production"
    for _ in range(2):
        done = linqbot_dev(str(bot_file), "--say", "hi", "--say", "again", cwd=tmp_path,
                           env={"LINQBOT_HOME": str(production)})  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "bot: visit 1\nyou: again\nbot: visit 2\n" in done.stdout
    assert not (tmp_path / ".linqbot").exists() and not production.exists(), "nothing left in a real bot's folder"

    home = tmp_path / "kept"
    for visit in ("1", "2"):
        done = linqbot_dev(str(bot_file), "--say", "hi", "--home", str(home), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"bot: visit {visit}\n" in done.stdout
    assert (home / "state.db").exists()


def test_say_with_a_bad_sender_or_target_explains_itself(tmp_path: Path) -> None:
    bad_sender = linqbot_dev(str(ECHO_BOT), "--say", "hi", "--from", "not-a-phone")
    assert bad_sender.returncode == 2
    assert "Invalid phone number format: 'not-a-phone'" in bad_sender.stderr

    missing = linqbot_dev(str(tmp_path / "nope.py"), "--say", "hi")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = linqbot_dev(str(ECHO_BOT), "--say", "hi", "--bot-port", str(taken.getsockname()[1]))
    assert done.returncode == 2
    assert "cannot listen on 127.0.0.1" in done.stderr
    assert "choose --port / --bot-port" in done.stderr


async def test_interactive_mode_serves_the_phone_and_stops_cleanly_on_ctrl_c() -> None:
    async with interactive_dev() as proc:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        assert first.startswith("linqbot dev: phone simulator at http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200
                assert "phone simulator" in await page.text()
            async with http.get(url + "phone/session") as session:
                assert (await session.json())["line"].startswith("+1555")
            async with http.ws_connect(url + "_emulator/ws") as stream:  # an open page must not delay shutdown
                assert (await stream.receive_json())["type"] == "hello"
                proc.send_signal(signal.SIGINT)
                assert await asyncio.wait_for(proc.wait(), 15) == 0
            rest = (await proc.stdout.read()).decode()
            assert "linqbot dev: stopped" in rest
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(url):
                    pass


async def test_interactive_logs_show_the_bot_not_one_httpx_line_per_api_call() -> None:
    async with interactive_dev(logs=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode().rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession() as http, http.ws_connect(url + "_emulator/ws") as stream:
            await stream.receive_json()  # hello
            async with http.post(url + "_emulator/inbound", json={"from": "+15550100001", "text": "hi"}) as sent:
                assert sent.status == 200
            while True:  # until the bot's reply is on the emulator
                change = await asyncio.wait_for(stream.receive_json(), TIMEOUT)
                if change["type"] == "message.created" and change["data"]["direction"] == "outbound":
                    break
        proc.send_signal(signal.SIGINT)
        logs = (await asyncio.wait_for(proc.stderr.read(), TIMEOUT)).decode()
    assert "linqbot ready" in logs
    assert "HTTP Request" not in logs


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does for a command it starts in the background


@pytest.mark.parametrize(
    ("started", "stop_with"),
    [
        ("in a terminal", signal.SIGINT),
        ("in the background by a script", signal.SIGINT),
        ("by a supervisor", signal.SIGTERM),
    ],
)
async def test_linqbot_emulator_subcommand_serves_the_emulator(started: str, stop_with: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "linqbot.cli",
        "emulator",
        "--port",
        "0",
        "--api-key",
        "k-123",
        cwd=REPO,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=_ignore_sigint if started == "in the background by a script" else None,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        url = first.split()[3]
        assert url.startswith("http://127.0.0.1:"), first
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/partner/v3/chats", headers={"Authorization": "Bearer k-123"}) as chats:
                assert chats.status == 200
        proc.send_signal(stop_with)
        assert await asyncio.wait_for(proc.wait(), 15) == 0, f"started {started}, it stops cleanly on {stop_with.name}"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
