"""Where jobs live — a SQL database (SQLAlchemy) or, for bots scaled out on Redis, the Redis they share — and
reading or cancelling stored jobs without a running bot.

The offline path reads the stored job states itself instead of restoring `Job` objects: restoring imports each job's
function, and APScheduler deletes any job it cannot restore — listing jobs from a shell where the bot's modules are
not importable must never do that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis
from apscheduler.jobstores.base import BaseJobStore, JobLookupError  # type: ignore[import-untyped]
from apscheduler.jobstores.redis import RedisJobStore  # type: ignore[import-untyped]
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime  # type: ignore[import-untyped]
from sqlalchemy import Engine, bindparam, create_engine, event, inspect, make_url, null, select
from sqlalchemy.pool import StaticPool

from linqbot.inbox.redis_store import DEFAULT_PREFIX
from linqbot.local_files import FOLDER, local_file
from linqbot.sqlite_wal import enable_wal
from linqbot_scheduler.runlog import RedisRunLog, RunLog, SqlRunLog

URL_ENV = "LINQBOT_SCHEDULER_URL"
FILE_NAME = "jobs.sqlite3"
DEFAULT_URL = f"sqlite:///{FOLDER}/{FILE_NAME}"
"""Relative to the directory the bot is started from — the same place as its ``.env`` and ``linqbot jobs``.
`resolve_url` gives it, or the file an earlier version kept (`FORMER_FILE`) while that exists."""
FORMER_FILE = "linqbot-jobs.sqlite3"
"""Where linqbot kept the jobs before they moved into ``.linqbot/``; still used while it exists."""
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
    return url or os.environ.get(URL_ENV) or f"sqlite:///{local_file(FILE_NAME, former=FORMER_FILE)}"


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


class Backend(ABC):
    """One job store location: the APScheduler job store, the run log beside it, and offline access to both."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether there is anything to read (a SQLite file not created yet holds no jobs, and stays absent)."""

    @abstractmethod
    def job_store(self) -> BaseJobStore: ...

    @abstractmethod
    def run_log(self) -> RunLog: ...

    @abstractmethod
    def stored_jobs(self) -> list[JobInfo]:
        """Every stored job, soonest first, read without importing job functions."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """Delete a stored job (a running scheduler simply never finds it again); `JobNotFound` if unknown."""

    def wake_others(self) -> None:  # noqa: B027 - only a shared store has other processes to tell
        """Tell the process running the jobs that the store changed (only a shared store has others)."""

    @abstractmethod
    def close(self) -> None: ...


def open_backend(url: str, prefix: str = DEFAULT_PREFIX) -> Backend:
    """``redis://…`` (keys under ``prefix``, the inbox's by default), ``memory://`` or any SQLAlchemy URL."""
    return RedisBackend(url, prefix) if is_redis(url) else SqlBackend(url)


class SqlBackend(Backend):
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.url)
        return self._engine

    def exists(self) -> bool:
        if self.url == MEMORY_URL:
            return False
        file = self._sqlite_file()
        return file is None or file.exists()

    def _sqlite_file(self) -> Path | None:
        """The SQLite file the URL names; None for other databases and in-memory ones."""
        if self.url == MEMORY_URL:
            return None
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return Path(parsed.database)

    def job_store(self) -> BaseJobStore:
        """The bot's job store; an SQLite file's folder is made here (``.linqbot/`` by default), where it is needed."""
        file = self._sqlite_file()
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        return SqlJobStore(engine=self.engine, tablename=JOBS_TABLE)

    def run_log(self) -> RunLog:
        return SqlRunLog(self.engine)

    def stored_jobs(self) -> list[JobInfo]:
        if not inspect(self.engine).has_table(JOBS_TABLE):
            return []
        table = SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE).jobs_t
        with self.engine.connect() as connection:
            rows = list(connection.execute(select(table).order_by(table.c.next_run_time)))
        return [_describe(row.id, row.next_run_time, row.job_state) for row in rows]

    def cancel(self, job_id: str) -> None:
        if not inspect(self.engine).has_table(JOBS_TABLE):
            raise JobNotFound(job_id)
        table = SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE).jobs_t
        with self.engine.begin() as connection:
            deleted = connection.execute(table.delete().where(table.c.id == job_id)).rowcount
        if not deleted:
            raise JobNotFound(job_id)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


SETTLE_AFTER = 0.1
"""Seconds the removal of a job that just ran waits to be written with others: one delete per batch instead of one
transaction per sent message. A crash in between leaves the job stored; it runs again after its lease and the send's
idempotency key makes Linq answer with the message already sent."""


class SqlJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's SQL job store with each statement built once, with bound parameters, and the removal of jobs
    that just ran written in batches.

    The stock store builds a fresh statement on every call (and SQLAlchemy then derives its cache key), and deletes
    each finished job in a transaction of its own: together most of the store's CPU when thousands of messages fire.
    A job removed but not yet deleted is invisible to every read of this store.
    """

    def __init__(self, *, engine: Engine, tablename: str) -> None:
        super().__init__(engine=engine, tablename=tablename)
        jobs = self.jobs_t
        self._lookup = select(jobs.c.job_state).where(jobs.c.id == bindparam("job_id"))
        self._due = (
            select(jobs.c.id, jobs.c.job_state)
            .where(jobs.c.next_run_time <= bindparam("now"))
            .order_by(jobs.c.next_run_time)
        )
        self._next = (
            select(jobs.c.next_run_time).where(jobs.c.next_run_time != null()).order_by(jobs.c.next_run_time).limit(1)
        )
        self._update = (
            jobs.update()
            .where(jobs.c.id == bindparam("job_id"))
            .values(next_run_time=bindparam("run_at"), job_state=bindparam("state"))
        )
        self._delete = jobs.delete().where(jobs.c.id == bindparam("job_id"))
        self._delete_many = jobs.delete().where(jobs.c.id.in_(bindparam("job_ids", expanding=True)))
        self._ran: set[str] = set()
        """Jobs this store updated since the last batch was written: known to exist, so removable in the batch."""
        self._removed: set[str] = set()
        self._batch: asyncio.TimerHandle | None = None

    def lookup_job(self, job_id: str) -> Any:
        if job_id in self._removed:
            return None
        with self.engine.begin() as connection:
            state = connection.execute(self._lookup, {"job_id": job_id}).scalar()
        return self._reconstitute_job(state) if state else None

    def get_all_jobs(self) -> list[Any]:
        self.write_removals()
        jobs: list[Any] = super().get_all_jobs()
        return jobs

    def add_job(self, job: Any) -> None:
        self.write_removals()  # the same id may come back
        super().add_job(job)

    def get_due_jobs(self, now: datetime) -> list[Any]:
        with self.engine.begin() as connection:
            rows = list(connection.execute(self._due, {"now": datetime_to_utc_timestamp(now)}))
        jobs, unreadable = [], []
        for row in rows:
            if row.id in self._removed:
                continue
            try:
                jobs.append(self._reconstitute_job(row.job_state))
            except BaseException:
                self._logger.exception('Unable to restore job "%s" -- removing it', row.id)
                unreadable.append(row.id)
        if unreadable:  # as the stock store does: a job that cannot be restored would fail every wake-up
            with self.engine.begin() as connection:
                connection.execute(self.jobs_t.delete().where(self.jobs_t.c.id.in_(unreadable)))
        return jobs

    def get_next_run_time(self) -> datetime | None:
        with self.engine.begin() as connection:
            return cast(datetime | None, utc_timestamp_to_datetime(connection.execute(self._next).scalar()))

    def update_job(self, job: Any) -> None:
        if job.id in self._removed:
            raise JobLookupError(job.id)
        params = {
            "job_id": job.id,
            "run_at": datetime_to_utc_timestamp(job.next_run_time),
            "state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
        }
        with self.engine.begin() as connection:
            if connection.execute(self._update, params).rowcount == 0:
                raise JobLookupError(job.id)
        self._ran.add(job.id)

    def remove_job(self, job_id: str) -> None:
        if job_id in self._removed:
            raise JobLookupError(job_id)
        if job_id in self._ran and self._write_later():
            self._removed.add(job_id)
            return
        with self.engine.begin() as connection:
            if connection.execute(self._delete, {"job_id": job_id}).rowcount == 0:
                raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._removed.clear()
        super().remove_all_jobs()

    def write_removals(self) -> None:
        """Delete the removed jobs now (on a timer, before reads that list jobs, and at shutdown)."""
        if self._batch is not None:
            self._batch.cancel()
            self._batch = None
        removed, self._removed = self._removed, set()
        self._ran.clear()  # a job updated before this batch may since have been deleted by someone else
        if removed:
            with self.engine.begin() as connection:
                connection.execute(self._delete_many, {"job_ids": list(removed)})

    def shutdown(self) -> None:
        self.write_removals()
        super().shutdown()

    def _write_later(self) -> bool:
        if self._batch is None:
            try:
                self._batch = asyncio.get_running_loop().call_later(SETTLE_AFTER, self.write_removals)
            except RuntimeError:  # no event loop to write the batch later
                return False
        return True


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
    enable_wal(connection)
    connection.execute("PRAGMA synchronous=NORMAL")


_UPDATE_IF_PRESENT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
return 1
"""


class SharedRedisJobStore(RedisJobStore):  # type: ignore[misc]
    """APScheduler's Redis job store with an atomic update: its own check-then-write could bring back a job that
    another process cancelled (or a sent message removed) in between."""

    def __init__(self, client: redis.Redis, jobs_key: str, run_times_key: str) -> None:
        super().__init__(jobs_key=jobs_key, run_times_key=run_times_key, connection_pool=client.connection_pool)
        self._update = self.redis.register_script(_UPDATE_IF_PRESENT)

    def update_job(self, job: Any) -> None:
        state = pickle.dumps(job.__getstate__(), self.pickle_protocol)
        when = "" if job.next_run_time is None else repr(datetime_to_utc_timestamp(job.next_run_time))
        if not self._update(keys=[self.jobs_key, self.run_times_key], args=[job.id, state, when]):
            raise JobLookupError(job.id)

    def shutdown(self) -> None:
        """The connection pool belongs to the backend, which closes it."""


class RedisBackend(Backend):
    """Jobs in a hash plus a sorted set of run times, the run log in a capped list, and a channel on which a process
    that adds or changes a job wakes the leader — all under the inbox's key prefix (one Redis Cluster slot)."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.jobs_key = f"{prefix}scheduler:jobs"
        self.run_times_key = f"{prefix}scheduler:run_times"
        self.wake_channel = f"{prefix}scheduler:wake"

    def exists(self) -> bool:
        return True

    def job_store(self) -> BaseJobStore:
        return SharedRedisJobStore(self.client, self.jobs_key, self.run_times_key)

    def run_log(self) -> RunLog:
        return RedisRunLog(self.client, f"{self.prefix}scheduler:runs")

    def stored_jobs(self) -> list[JobInfo]:
        order = cast(list[tuple[bytes, float]], self.client.zrange(self.run_times_key, 0, -1, withscores=True))
        states = cast(dict[bytes, bytes], self.client.hgetall(self.jobs_key))
        found = [_describe(key.decode(), score, states[key]) for key, score in order if key in states]
        timed = {key for key, _ in order}
        found += [_describe(key.decode(), None, blob) for key, blob in states.items() if key not in timed]
        return found

    def cancel(self, job_id: str) -> None:
        with self.client.pipeline() as pipe:
            pipe.hdel(self.jobs_key, job_id)
            pipe.zrem(self.run_times_key, job_id)
            deleted, _ = pipe.execute()
        if not deleted:
            raise JobNotFound(job_id)
        self.wake_others()

    def wake_others(self) -> None:
        self.client.publish(self.wake_channel, b"")

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError, OSError):
            self.client.close()


def _describe(job_id: str, next_run: float | None, blob: bytes) -> JobInfo:
    when = datetime.fromtimestamp(next_run, UTC) if next_run is not None else None
    try:
        state: dict[str, Any] = pickle.loads(blob)
    except Exception as exc:  # arguments of a class this shell cannot import
        return JobInfo(job_id, "?", "?", f"(unreadable here: {type(exc).__name__})", when)
    return JobInfo(job_id, str(state.get("name", "")), str(state.get("func", "")), str(state.get("trigger")), when)
