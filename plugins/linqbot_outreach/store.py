"""Campaign state in SQLite: one row per campaign and per recipient, written before and after every send.

A recipient goes ``pending`` → ``sending`` (committed before the API call) → ``sent`` / ``skipped`` / ``failed``. A
run that finds someone still ``sending`` crashed mid-send and sends again with the same idempotency key, so Linq
answers with the original message instead of a second one. The file is shared with the bot's webhook process,
which reads it to put ``ctx.campaign`` on replies.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from linqbot.local_files import FOLDER, local_file
from linqbot.sqlite_wal import enable_wal
from linqbot_outreach.recipients import Recipient

DB_ENV = "LINQBOT_OUTREACH_DB"
FILE_NAME = "outreach.sqlite3"
DEFAULT_DB = f"{FOLDER}/{FILE_NAME}"
"""Relative to the directory the bot and ``linqbot outreach`` run from, so both find the same campaigns.
`resolve_db` gives it, or the file an earlier version kept (`FORMER_DB`) while that exists."""
FORMER_DB = "linqbot-outreach.sqlite3"
"""Where linqbot kept campaigns before they moved into ``.linqbot/``; still used while it exists."""

Status = Literal["pending", "sending", "sent", "skipped", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "sending", "sent", "skipped", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS recipients (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    handle TEXT NOT NULL,
    position INTEGER NOT NULL,
    fields TEXT NOT NULL,
    timezone TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    chat_id TEXT,
    sent_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (campaign_id, handle)
);
CREATE INDEX IF NOT EXISTS recipients_by_handle ON recipients (handle, sent_at);
"""


def resolve_db(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get(DB_ENV) or local_file(FILE_NAME, former=FORMER_DB))


@dataclass(frozen=True)
class RecipientState:
    campaign_id: str
    handle: str
    position: int
    fields: dict[str, str]
    timezone: str | None
    status: Status
    reason: str
    message_id: str | None
    chat_id: str | None
    sent_at: float | None


class CampaignStore:
    """The outreach database (WAL mode: the sender and the bot's webhook process use it at once)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = resolve_db(path)
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=5000")
            enable_wal(db)
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def enrol(self, campaign_id: str, template: str, people: Iterable[Recipient], now: float) -> None:
        """Record the campaign and its recipients; people already enrolled keep their status (a re-run resumes)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO campaigns (id, template, created_at) VALUES (?, ?, ?)",
                (campaign_id, template, now),
            )
            db.execute("UPDATE campaigns SET finished_at = NULL WHERE id = ?", (campaign_id,))
            db.executemany(
                "INSERT OR IGNORE INTO recipients (campaign_id, handle, position, fields, timezone, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (campaign_id, p.handle, index, json.dumps(p.fields), p.timezone, now)
                    for index, p in enumerate(people)
                ],
            )

    def exists(self, campaign_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM campaigns WHERE id = ?", (campaign_id,)).fetchone() is not None

    def mark(self, campaign_id: str, handle: str, status: Status, now: float, reason: str = "", **extra: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in extra)
        sql = f"UPDATE recipients SET status = ?, reason = ?, updated_at = ?{', ' + columns if columns else ''} "
        self.db.execute(
            sql + "WHERE campaign_id = ? AND handle = ?",
            (status, reason, now, *extra.values(), campaign_id, handle),
        )

    def note(self, campaign_id: str, handle: str, reason: str) -> None:
        """Explain why a recipient is still pending (e.g. outside their sending window)."""
        self.db.execute(
            "UPDATE recipients SET reason = ? WHERE campaign_id = ? AND handle = ?", (reason, campaign_id, handle)
        )

    def retry_failed(self, campaign_id: str) -> None:
        self.db.execute(
            "UPDATE recipients SET status = 'pending' WHERE campaign_id = ? AND status = 'failed'", (campaign_id,)
        )

    def finish(self, campaign_id: str, now: float) -> None:
        self.db.execute("UPDATE campaigns SET finished_at = ? WHERE id = ?", (now, campaign_id))

    def recipients(self, campaign_id: str, statuses: Iterable[Status] | None = None) -> list[RecipientState]:
        wanted = tuple(statuses or STATUSES)
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(
            f"SELECT * FROM recipients WHERE campaign_id = ? AND status IN ({marks}) ORDER BY position",
            (campaign_id, *wanted),
        ).fetchall()
        return [_state(row) for row in rows]

    def counts(self, campaign_id: str) -> dict[Status, int]:
        found = dict(
            self.db.execute(
                "SELECT status, COUNT(*) FROM recipients WHERE campaign_id = ? GROUP BY status", (campaign_id,)
            ).fetchall()
        )
        return {status: int(found.get(status, 0)) for status in STATUSES}

    def latest_sent_to(self, handle: str, since: float) -> RecipientState | None:
        """The most recent campaign message to ``handle`` sent after ``since``."""
        row = self.db.execute(
            "SELECT * FROM recipients WHERE handle = ? AND status = 'sent' AND sent_at >= ? "
            "ORDER BY sent_at DESC LIMIT 1",
            (handle, since),
        ).fetchone()
        return _state(row) if row is not None else None


def _state(row: sqlite3.Row) -> RecipientState:
    return RecipientState(
        campaign_id=row["campaign_id"],
        handle=row["handle"],
        position=row["position"],
        fields=json.loads(row["fields"]),
        timezone=row["timezone"],
        status=row["status"],
        reason=row["reason"],
        message_id=row["message_id"],
        chat_id=row["chat_id"],
        sent_at=row["sent_at"],
    )
