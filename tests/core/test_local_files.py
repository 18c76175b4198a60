"""Files linqbot keeps when no setting names a place: all in ``.linqbot/``; a file an earlier version kept in the
working folder goes on being used, so an upgrade loses nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from linqbot_outreach.store import resolve_db
from linqbot_scheduler.store import open_backend, resolve_url
from linqbot_state import SqliteStore, runtime_of

from linqbot import Bot
from linqbot.inbox import default_file_url
from linqbot.middleware import Safeguards

pytestmark = pytest.mark.usefixtures("linq_env")


@pytest.fixture(autouse=True)
def in_a_fresh_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for setting in ("LINQBOT_STATE_URL", "LINQBOT_SCHEDULER_URL", "LINQBOT_OUTREACH_DB", "LINQBOT_HOME"):
        monkeypatch.delenv(setting, raising=False)


def state_store() -> SqliteStore:
    store = runtime_of(Bot(env_file=None, plugins="state", safeguards=Safeguards.off())).store
    assert isinstance(store, SqliteStore)
    return store


def test_every_default_file_is_in_the_dot_linqbot_folder_made_only_by_the_store_that_writes(tmp_path: Path) -> None:
    assert default_file_url() == "sqlite:///.linqbot/inbox.db"
    assert resolve_url() == "sqlite:///.linqbot/jobs.sqlite3"
    assert resolve_db() == Path(".linqbot/outreach.sqlite3")
    assert not (tmp_path / ".linqbot").exists(), "looking a default up creates nothing (a read-only folder is fine)"
    open_backend(resolve_url()).job_store()  # what the scheduler does on start; its file comes with the first job
    assert (tmp_path / ".linqbot").is_dir()
    assert state_store().path == ".linqbot/state.db"


async def test_files_an_earlier_version_kept_are_used_where_they_are_with_one_warning_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SqliteStore("linqbot-state.db") as earlier:
        await earlier.chat("c1").set("name", "Ann")
    for name in ("linqbot-jobs.sqlite3", "linqbot-outreach.sqlite3"):
        (tmp_path / name).touch()
    caplog.set_level(logging.WARNING, logger="linqbot")

    store = state_store()
    async with store:
        assert await store.chat("c1").get("name") == "Ann", "the state kept before the upgrade"
    assert resolve_url() == "sqlite:///linqbot-jobs.sqlite3"
    assert resolve_db() == Path("linqbot-outreach.sqlite3")
    state_store()  # resolved again: no second warning
    warnings = [r.getMessage() for r in caplog.records if "earlier linqbot" in r.getMessage()]
    assert len(warnings) == 3 and "move it" in warnings[0] and ".linqbot/state.db" in warnings[0]


def test_once_the_file_is_moved_into_the_folder_that_one_is_used(tmp_path: Path) -> None:
    (tmp_path / "linqbot-jobs.sqlite3").touch()
    (tmp_path / ".linqbot").mkdir()
    (tmp_path / ".linqbot" / "jobs.sqlite3").touch()
    assert resolve_url() == "sqlite:///.linqbot/jobs.sqlite3"


def test_linqbot_home_moves_every_default_file_and_never_falls_back_to_former_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "data" / "bots" / "one"  # nested: every store makes the folders it needs
    monkeypatch.setenv("LINQBOT_HOME", str(home))
    (tmp_path / "linqbot-jobs.sqlite3").touch()  # a file an earlier version kept: not the place LINQBOT_HOME names
    assert default_file_url() == f"sqlite:///{home.as_posix()}/inbox.db"
    assert resolve_url() == f"sqlite:///{home.as_posix()}/jobs.sqlite3"
    assert resolve_db() == home / "outreach.sqlite3"
    assert state_store().path == f"{home.as_posix()}/state.db"
    assert not (tmp_path / ".linqbot").exists()
