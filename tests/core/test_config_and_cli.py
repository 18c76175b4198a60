"""Settings resolution with errors that name the setting, and the ``linqbot run`` command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from linqbot import Bot, ConfigError
from linqbot.cli import LoadError, load_bot, main
from linqbot.config import DEFAULT_BASE_URL, SETTINGS, load_config
from tests.conftest import SECRET

GOOD = {"LINQ_API_KEY": "key", "LINQ_WEBHOOK_SECRET": SECRET}
REPO = Path(__file__).resolve().parents[2]


def test_arguments_beat_environment_which_beats_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LINQ_API_KEY=from-file\nLINQ_PHONE_NUMBER=+15550001111\nLINQ_WEBHOOK_SECRET=file-secret\n")
    config = load_config(environ={"LINQ_API_KEY": "from-env"}, env_file=env_file)
    assert (config.api_key, config.phone_number, config.webhook_secret) == ("from-env", "+15550001111", "file-secret")
    assert config.base_url == DEFAULT_BASE_URL
    assert load_config(api_key="from-arg", environ={"LINQ_API_KEY": "x"}, env_file=env_file).api_key == "from-arg"


def test_sdk_variable_names_are_accepted() -> None:
    config = load_config(
        environ={
            "LINQ_API_V3_API_KEY": "sdk-key",
            "LINQ_WEBHOOK_SECRET": SECRET,
            "LINQ_API_V3_BASE_URL": "http://x/api",
        },
        env_file=None,
    )
    assert (config.api_key, config.base_url) == ("sdk-key", "http://x/api")


def test_secrets_can_be_rotated_with_a_comma_separated_list() -> None:
    config = load_config(environ={**GOOD, "LINQ_WEBHOOK_SECRET": f"{SECRET}, whsec_b2xkLXNlY3JldA=="}, env_file=None)
    assert config.webhook_secrets == (SECRET, "whsec_b2xkLXNlY3JldA==")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"LINQ_WEBHOOK_SECRET": SECRET}, "LINQ_API_KEY is not set"),
        ({"LINQ_API_KEY": "key"}, "LINQ_WEBHOOK_SECRET is not set"),
        ({**GOOD, "LINQ_API_KEY": "has space"}, "LINQ_API_KEY contains whitespace"),
        ({**GOOD, "LINQ_WEBHOOK_SECRET": "whsec_"}, "LINQ_WEBHOOK_SECRET looks truncated"),
        ({**GOOD, "LINQ_BASE_URL": "api.linqapp.com"}, "LINQ_BASE_URL must be an http"),
        ({**GOOD, "LINQ_BASE_URL": "https://api.linqapp.com/api/partner/v3"}, "without /v3"),
        ({**GOOD, "LINQ_PHONE_NUMBER": "555-0100"}, "LINQ_PHONE_NUMBER must be E.164"),
    ],
)
def test_bad_settings_name_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(environ=environ, env_file=None)


def test_a_misspelt_setting_is_named_with_the_one_meant(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("linqbot.config._reported", set())  # once per process: this test's process is shared
    typo = {"LINQ_API_KEY": "key", "LINQ_WEBHOOK_SECERT": SECRET}
    with pytest.raises(ConfigError, match=r"LINQ_WEBHOOK_SECRET is not set \(LINQ_WEBHOOK_SECERT is set: a typo\?\)"):
        load_config(environ=typo, env_file=None)

    config = load_config(environ={**GOOD, "LINQ_BASEURL": "http://127.0.0.1:1/api/partner"}, env_file=None)
    assert config.base_url == DEFAULT_BASE_URL  # the typo is not read ...
    warnings = [r.getMessage() for r in caplog.records if r.name == "linqbot.config"]
    assert "LINQ_BASEURL is not a setting linqbot reads; did you mean LINQ_BASE_URL?" in warnings  # ... but said
    plugins_own = {"LINQBOT_WEATHER_TOKEN": "y", "LINQBOT_STATS_URL": "y", "LINQBOT_OUTREACH_DIR": "y"}
    load_config(environ={**GOOD, "LINQ_BASEURL": "x", **plugins_own}, env_file=None)
    assert len([r for r in caplog.records if r.name == "linqbot.config"]) == len(warnings), "once, and not others'"
    load_config(environ={**GOOD, "LINQ_INBOX_URL": "memory://"}, env_file=None)
    assert caplog.records[-1].getMessage().endswith("did you mean LINQBOT_INBOX_URL?")


def test_a_secret_unlike_linqs_is_warned_about_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("linqbot.config._reported", set())  # once per process: this test's process is shared
    for _ in range(2):
        config = load_config(environ={**GOOD, "LINQ_WEBHOOK_SECRET": "notasecret"}, env_file=None)
    assert config.webhook_secret == "notasecret"  # any string is a valid key: used, not refused
    warned = [r.getMessage() for r in caplog.records if "does not look like a Linq signing secret" in r.getMessage()]
    assert len(warned) == 1 and "notasecret" not in warned[0]
    monkeypatch.setattr("linqbot.config._reported", set())
    load_config(environ=GOOD, webhook_secret="not-used:only-calls-the-api", env_file=None)  # a secret given in code
    assert len(caplog.records) == 1
    load_config(environ=GOOD, env_file=None)
    assert len(caplog.records) == 1


def test_every_setting_the_code_reads_is_known_to_the_typo_check() -> None:
    named = set()
    for folder in ("linqbot", "plugins"):
        for source in (REPO / folder).rglob("*.py"):
            named.update(re.findall(r"[\"'](LINQ(?:BOT)?_[A-Z0-9_]+)[\"']", source.read_text()))
    assert named == set(SETTINGS)


def test_phone_numbers_are_masked_in_config_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={**GOOD, "LINQ_PHONE_NUMBER": "15557654321"}, env_file=None)
    assert "15557654321" not in str(caught.value)


def test_a_bot_can_be_created_before_the_environment_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LINQ"):
            monkeypatch.delenv(name)
    bot = Bot(env_file=None)
    with pytest.raises(ConfigError, match="LINQ_API_KEY"):
        _ = bot.app, bot.config


def write_bot(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_bot.py"
    path.write_text(
        "from linqbot import Bot\n\n"
        "bot = Bot(env_file=None)\n\n"
        "@bot.on_message()\n"
        "async def echo(ctx):\n"
        "    await ctx.reply(ctx.text)\n"
    )
    return path


def test_load_bot_by_path_module_and_attribute(tmp_path: Path) -> None:
    path = write_bot(tmp_path)
    assert isinstance(load_bot(str(path)), Bot)
    assert isinstance(load_bot(f"{path}:bot"), Bot)
    with pytest.raises(LoadError, match="no Bot named 'nope'"):
        load_bot(f"{path}:nope")
    with pytest.raises(LoadError, match="no such file"):
        load_bot(str(tmp_path / "missing.py"))
    with pytest.raises(LoadError, match="cannot import module"):
        load_bot("no_such_module_anywhere:bot")


def test_run_without_settings_exits_2_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("LINQ"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(write_bot(tmp_path))]) == 2
    assert "LINQ_API_KEY is not set" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_serves_the_webhook_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **GOOD, "LINQ_BASE_URL": "http://127.0.0.1:9/api/partner", "PYTHONPATH": os.getcwd()}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linqbot.cli", "run", str(write_bot(tmp_path)), "--host", "127.0.0.1",
        "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60  # a loaded CI box can take many seconds to import and start
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    if process.returncode is not None or time.monotonic() > deadline:
                        pytest.fail("linqbot run never served /healthz")
                    await asyncio.sleep(0.05)
            async with session.post(f"http://127.0.0.1:{port}/webhook", data=b"{}") as response:
                assert response.status == 401
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
