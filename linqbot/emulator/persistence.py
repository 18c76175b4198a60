"""Optional SQLite persistence (``--db FILE``): one row per state table, rewritten after each change."""

import json
import sqlite3
from pathlib import Path

from linqbot.emulator.state import State


class SqliteStore:
    """Keeps the latest snapshot of every state table so a restarted emulator resumes where it stopped."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path))
        self._db.execute("CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, rows TEXT NOT NULL)")
        self._db.commit()

    def load(self) -> State | None:
        rows = dict(self._db.execute("SELECT name, rows FROM tables").fetchall())
        if not rows:
            return None
        return State.model_validate({name: json.loads(data) for name, data in rows.items()})

    def save(self, state: State) -> None:
        dumped = state.model_dump(mode="json")
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO tables (name, rows) VALUES (?, ?)",
                [(name, json.dumps(rows)) for name, rows in dumped.items()],
            )

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM tables")

    def close(self) -> None:
        self._db.close()
