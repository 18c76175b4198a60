"""The run log: one row per job run (ok, error or missed), kept next to the jobs so a one-shot job that failed and
left the job store still leaves a trace that ``bot.job_runs()`` and ``linqbot jobs history`` can show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, Text, inspect, select

Outcome = Literal["ok", "error", "missed"]

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


class RunLog:
    """Append-only job outcomes in the ``linqbot_job_runs`` table of the scheduler's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        _metadata.create_all(self.engine, tables=[runs_table])

    def record(self, run: JobRun) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                runs_table.insert().values(
                    job_id=run.job_id,
                    scheduled_for=_ts(run.scheduled_for),
                    finished_at=_ts(run.finished_at),
                    outcome=run.outcome,
                    detail=run.detail,
                )
            )

    def runs(self, job_id: str | None = None, limit: int = 100) -> list[JobRun]:
        """The latest ``limit`` runs (of one job, when given), oldest first."""
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
