"""Two connections switching a new SQLite file to WAL at once: SQLite refuses one at once, `enable_wal` waits."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from linqbot.sqlite_wal import enable_wal

RACES = 40
"""Without the retry about a third of such races failed one side: forty in a row all passing is no accident."""


def open_together(path: Path) -> list[BaseException | str]:
    """Two threads connect to ``path`` at the same moment and switch it to WAL; what each ended with."""
    start = threading.Barrier(2)
    outcomes: list[BaseException | str] = []

    def connect() -> None:
        start.wait()
        try:
            connection = sqlite3.connect(path, timeout=5, isolation_level=None)
            enable_wal(connection)
            outcomes.append(connection.execute("PRAGMA journal_mode").fetchone()[0])
            connection.close()
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=connect) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_connections_opening_a_new_file_together_both_get_wal(tmp_path: Path) -> None:
    for race in range(RACES):
        assert open_together(tmp_path / f"race-{race}.db") == ["wal", "wal"]


def test_a_file_that_is_not_a_database_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"not an SQLite file, just some text that is long enough to have a header" * 10)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        enable_wal(sqlite3.connect(path))
