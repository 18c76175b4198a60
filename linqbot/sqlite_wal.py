"""Switching an SQLite file to WAL mode safely when several connections open it at once."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

RETRY_EVERY = 0.005


def enable_wal(connection: Any, timeout: float = 5.0) -> None:
    """Put the file of ``connection`` (a DB-API SQLite connection) in WAL mode.

    Two connections switching a new file to WAL at the same moment (two processes, or two stores, opening it
    together) make SQLite answer one of them "database is locked" at once, without waiting out its busy timeout;
    that one is retried here for up to ``timeout`` seconds (a third of such races failed the opening before).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(RETRY_EVERY)
