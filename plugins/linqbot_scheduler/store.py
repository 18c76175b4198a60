"""Where jobs live: the database URL, its engine, and reading or cancelling stored jobs without a running bot.

The offline path reads APScheduler's ``apscheduler_jobs`` rows itself instead of restoring `Job` objects: restoring
imports each job's function, and APScheduler deletes any job it cannot restore — listing jobs from a shell where the
bot's modules are not importable must never do that.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from sqlalchemy import Engine, create_engine, event, inspect, make_url, select
from sqlalchemy.pool import StaticPool

URL_ENV = "LINQBOT_SCHEDULER_URL"
DEFAULT_URL = "sqlite:///linqbot-jobs.sqlite3"
"""Relative to the directory the bot is started from — the same place as its ``.env`` and ``linqbot jobs``."""
MEMORY_URL = "memory://"
JOBS_TABLE = "apscheduler_jobs"


class JobNotFound(LookupError):
    """No job has this id."""


@dataclass(frozen=True)
class JobInfo:
    """One scheduled job as listed by ``bot.jobs()`` and ``linqbot jobs list``."""

    id: str
    name: str
    func: str
    """The importable reference (``module:function``) the job runs."""
    trigger: str
    next_run_time: datetime | None
    """``None`` when paused."""


def resolve_url(url: str | None = None) -> str:
    """The job store URL: the argument, else ``LINQBOT_SCHEDULER_URL``, else the default SQLite file."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def store_exists(url: str) -> bool:
    """Whether there is anything to read: a SQLite file that does not exist yet holds no jobs (and stays absent)."""
    if url == MEMORY_URL:
        return False
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


def open_engine(url: str) -> Engine:
    """An engine for the job store; ``memory://`` is a private in-memory SQLite database (jobs die with the bot)."""
    if url == MEMORY_URL:
        return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _fast_commits)
    return engine


def _fast_commits(connection: Any, _: Any) -> None:
    """WAL with synchronous=NORMAL: a commit stops waiting for an fsync (milliseconds per job added or fired, which
    made 10k due jobs fire seconds late), and a crash of the process still loses no committed job."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def job_store(engine: Engine) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)


def stored_jobs(engine: Engine) -> list[JobInfo]:
    """Every stored job, soonest first, read without importing job functions."""
    if not inspect(engine).has_table(JOBS_TABLE):
        return []
    table = job_store(engine).jobs_t
    with engine.connect() as connection:
        rows = list(connection.execute(select(table).order_by(table.c.next_run_time)))
    return [_describe(row.id, row.next_run_time, row.job_state) for row in rows]


def _describe(job_id: str, next_run: float | None, blob: bytes) -> JobInfo:
    when = datetime.fromtimestamp(next_run, UTC) if next_run is not None else None
    try:
        state: dict[str, Any] = pickle.loads(blob)
    except Exception as exc:  # arguments of a class this shell cannot import
        return JobInfo(job_id, "?", "?", f"(unreadable here: {type(exc).__name__})", when)
    return JobInfo(job_id, str(state.get("name", "")), str(state.get("func", "")), str(state.get("trigger")), when)


def cancel_stored(engine: Engine, job_id: str) -> None:
    """Delete a stored job; a running bot simply never finds it again."""
    store = job_store(engine)
    if not inspect(engine).has_table(JOBS_TABLE):
        raise JobNotFound(job_id)
    with engine.begin() as connection:
        deleted = connection.execute(store.jobs_t.delete().where(store.jobs_t.c.id == job_id)).rowcount
    if not deleted:
        raise JobNotFound(job_id)
