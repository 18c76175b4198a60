"""``linqbot jobs``: list, cancel and history straight from the store, with no bot running."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from linqbot_scheduler import scheduler_of

from linqbot import Bot
from linqbot.cli import main
from linqbot.emulator import Emulator
from linqbot.testing import simulate
from tests.durability.conftest import RedisServer

from .conftest import scheduler_bot


async def test_list_cancel_and_history_without_the_bot(
    jobs_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A job whose function lives in a module this shell will not be able to import.
    (tmp_path / "reminders_mod.py").write_text("async def nudge(name: str) -> None:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    bot = scheduler_bot()
    async with simulate(bot):
        scheduler = scheduler_of(bot)
        await scheduler.schedule("reminders_mod:nudge", at=timedelta(hours=2), args=("ana",), id="nudge-ana")
        await scheduler.schedule_message(to="+15550100002", text="hi", at=timedelta(hours=1), id="hello")
        done = await scheduler.schedule_message(to="+15550100003", text="now", at=timedelta(0), id="now")
        await scheduler.wait_for_run(done.id)
    monkeypatch.delitem(sys.modules, "reminders_mod")
    (tmp_path / "reminders_mod.py").unlink()

    assert main(["jobs", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing] == ["hello", "nudge-ana"]
    assert "message to +1***02" in listing[0] and "+15550100002" not in listing[0]
    assert "(reminders_mod:nudge)" in listing[1]

    assert main(["jobs", "--url", jobs_url, "cancel", "nudge-ana"]) == 0
    assert capsys.readouterr().out == "cancelled nudge-ana\n"
    assert main(["jobs", "cancel", "nudge-ana"]) == 1
    assert "no job with id 'nudge-ana'" in capsys.readouterr().err

    assert main(["jobs", "history"]) == 0
    [run] = capsys.readouterr().out.splitlines()
    assert " now  ok " in run

    assert [j.id for j in scheduler_of(scheduler_bot()).jobs()] == ["hello"]  # the Python API reads the store too


def test_an_empty_or_missing_store_lists_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "--url", f"sqlite:///{tmp_path / 'none.sqlite3'}", "list"]) == 0
    assert capsys.readouterr().out == "no scheduled jobs\n"


async def test_a_bot_on_a_redis_inbox_keeps_its_jobs_there_for_the_cli(
    redis_server: RedisServer,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINQBOT_INBOX_URL", f"{redis_server.url}?prefix=shop:{{inbox}}:&lock_ttl=1")
    bot = Bot(env_file=None, plugins=["scheduler"])
    bot.configure(api_key=emulator.api_key, base_url=emulator.base_url, webhook_secret="s", phone_number=emulator.line)
    await bot.startup()
    try:
        scheduler = scheduler_of(bot)
        await scheduler.schedule_message(to="+15550100002", text="hi", at=timedelta(hours=1), id="hello")
        done = await scheduler.schedule_message(to="+15550100003", text="now", at=timedelta(0), id="now")
        assert (await scheduler.wait_for_run(done.id)).outcome == "ok"
    finally:
        await bot.shutdown()
    assert os.listdir(tmp_path) == ["redis"]  # the redis-server's directory, no SQLite job file

    assert main(["jobs", "list"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("hello  next ") and "message to +1***02" in line
    assert main(["jobs", "history"]) == 0
    [run] = capsys.readouterr().out.splitlines()
    assert " now  ok " in run
    assert main(["jobs", "cancel", "hello"]) == 0
    assert main(["jobs", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no scheduled jobs"
