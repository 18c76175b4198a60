"""The run log: one entry per job run (ok, retrying, error or missed), kept next to the jobs so a one-shot job that
failed and left the job store still leaves a trace that ``bot.job_runs()`` and ``linqbot jobs history`` can show."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import redis
from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, Text, inspect, select

Outcome = Literal["ok", "retrying", "error", "missed", "handed_back"]
"""``retrying``: a scheduled message failed for a transient reason and is due again later (same idempotency key).
``handed_back``: this process lost the leadership before the run made a Linq call; only ``wait_for_run`` on that
process sees it, the run log records the leader's run."""

_metadata = MetaData()
runs_table = Table(
    "linqbot_job_runs",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(191), index=True, nullable=False),
    Column("scheduled_for", Float, nullable=True),
    Column("finished_at", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)


@dataclass(frozen=True)
class JobRun:
    """What happened when a job was due."""

    job_id: str
    scheduled_for: datetime | None
    finished_at: datetime
    outcome: Outcome
    detail: str = ""


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


FLUSH_AFTER = 0.1
"""Seconds outcomes wait to be written together: one write per batch instead of one transaction per run (a third
of the scheduler's storage work when thousands of messages fire); a crash loses at most this much of the log."""


class RunLog(ABC):
    """Append-only job outcomes, written in batches (reading first writes what is pending)."""

    def __init__(self) -> None:
        self._pending: list[JobRun] = []
        self._flush: asyncio.TimerHandle | None = None

    def create(self) -> None:  # noqa: B027 - only a SQL log has a table to create
        """Prepare storage before the first record."""

    def record(self, run: JobRun) -> None:
        self._pending.append(run)
        if self._flush is None:
            try:
                self._flush = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)
            except RuntimeError:  # no event loop: nothing would flush later
                self.flush()

    def flush(self) -> None:
        """Write the pending outcomes now (on a timer, before reading, and when the scheduler closes)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        pending, self._pending = self._pending, []
        if pending:
            self._write(pending)

    def runs(self, job_id: str | None = None, limit: int = 100) -> list[JobRun]:
        """The latest ``limit`` runs (of one job, when given), oldest first."""
        self.flush()
        return self._read(job_id, limit)

    @abstractmethod
    def _write(self, runs: list[JobRun]) -> None: ...

    @abstractmethod
    def _read(self, job_id: str | None, limit: int) -> list[JobRun]: ...


class SqlRunLog(RunLog):
    """The ``linqbot_job_runs`` table of the scheduler's database."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def create(self) -> None:
        _metadata.create_all(self.engine, tables=[runs_table])

    def _write(self, runs: list[JobRun]) -> None:
        rows = [
            {
                "job_id": run.job_id,
                "scheduled_for": _ts(run.scheduled_for),
                "finished_at": _ts(run.finished_at),
                "outcome": run.outcome,
                "detail": run.detail,
            }
            for run in runs
        ]
        with self.engine.begin() as connection:
            connection.execute(runs_table.insert(), rows)

    def _read(self, job_id: str | None, limit: int) -> list[JobRun]:
        if not inspect(self.engine).has_table(runs_table.name):
            return []
        query = select(runs_table).order_by(runs_table.c.id.desc()).limit(limit)
        if job_id is not None:
            query = query.where(runs_table.c.job_id == job_id)
        with self.engine.connect() as connection:
            rows = list(connection.execute(query))
        return [
            JobRun(
                job_id=row.job_id,
                scheduled_for=_dt(row.scheduled_for),
                finished_at=_dt(row.finished_at) or datetime.now(UTC),
                outcome=row.outcome,
                detail=row.detail,
            )
            for row in reversed(rows)
        ]


REDIS_RUNS_KEPT = 50_000
"""The Redis run log keeps the latest runs only (a few MB), like a log file that rotates."""


class RedisRunLog(RunLog):
    """A capped Redis list of JSON entries, newest first, shared by every process of a scaled-out bot."""

    def __init__(self, client: redis.Redis, key: str, kept: int = REDIS_RUNS_KEPT) -> None:
        super().__init__()
        self.client = client
        self.key = key
        self.kept = kept

    def _write(self, runs: list[JobRun]) -> None:
        entries = [
            json.dumps([r.job_id, _ts(r.scheduled_for), _ts(r.finished_at), r.outcome, r.detail], separators=(",", ":"))
            for r in runs
        ]
        with self.client.pipeline(transaction=False) as pipe:
            pipe.lpush(self.key, *entries)
            pipe.ltrim(self.key, 0, self.kept - 1)
            pipe.execute()

    def _read(self, job_id: str | None, limit: int) -> list[JobRun]:
        found: list[JobRun] = []
        for raw in self.client.lrange(self.key, 0, -1 if job_id is not None else limit - 1):
            name, scheduled_for, finished_at, outcome, detail = json.loads(raw)
            if job_id is not None and name != job_id:
                continue
            found.append(
                JobRun(name, _dt(scheduled_for), _dt(finished_at) or datetime.now(UTC), cast(Outcome, outcome), detail)
            )
            if len(found) == limit:
                break
        return found[::-1]
