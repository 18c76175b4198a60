"""The SQLite backend, the default for ``linqbot run``: one file that survives restarts and is safe across processes.

sqlite3 is blocking, so every statement runs on one dedicated thread (which also serialises this process's writes);
``BEGIN IMMEDIATE`` makes each read-modify-write atomic against other processes sharing the file.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from linqbot.sqlite_wal import enable_wal
from linqbot_state.store import Clock, StateStore, StateStoreError, Write

T = TypeVar("T")

PURGE_EVERY = 256
"""Writes between purges of expired records."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS linqbot_state (
    scope TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS linqbot_state_expiry ON linqbot_state (expires_at) WHERE expires_at IS NOT NULL;
"""

IN_MEMORY = ":memory:"


class SqliteStore(StateStore):
    """State in an SQLite file; the file is created by the first write, so an unused store leaves nothing behind."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = time.time, busy_timeout: float = 5.0) -> None:
        super().__init__(clock=clock)
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used only on the executor's thread
        self._writes = 0

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = time.time) -> SqliteStore:
        """``sqlite:///relative/state.db``, ``sqlite:////absolute/state.db`` or ``sqlite:///:memory:``."""
        scheme, sep, rest = url.partition("://")
        if scheme != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
            raise StateStoreError(
                f"an SQLite state URL looks like sqlite:///state.db (relative) or sqlite:////var/lib/bot/state.db, "
                f"got {url!r}"
            )
        return cls(rest[1:], clock=clock)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linqbot-state-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- on the store's thread --------------------------------------------------------------------------------------

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and self.path != IN_MEMORY and not os.path.exists(self.path):
                return None
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
                enable_wal(conn, self.busy_timeout)
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: survives crashes, one fsync per checkpoint
                conn.executescript(SCHEMA)
            except sqlite3.Error as exc:
                raise StateStoreError(f"cannot open the state database {self.path!r}: {exc}") from exc
            self._conn = conn
        return self._conn

    def _read_sync(self, scope: str) -> str | None:
        conn = self._connection(create=False)
        if conn is None:
            return None
        row = conn.execute("SELECT data FROM linqbot_state WHERE scope = ?", (scope,)).fetchone()
        return None if row is None else str(row[0])

    def _transact_sync(self, scope: str, change: Callable[[str | None], Write]) -> None:
        conn = self._connection(create=True)
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT data FROM linqbot_state WHERE scope = ?", (scope,)).fetchone()
            text, expires_at = change(None if row is None else str(row[0]))
            if text is None:
                conn.execute("DELETE FROM linqbot_state WHERE scope = ?", (scope,))
            else:
                conn.execute(
                    "INSERT INTO linqbot_state (scope, data, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (scope) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                    (scope, text, expires_at),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self._purge_sync()

    def _drop_sync(self, scope: str) -> None:
        conn = self._connection(create=False)
        if conn is not None:
            conn.execute("DELETE FROM linqbot_state WHERE scope = ?", (scope,))

    def _open_sync(self) -> None:
        if self.path != IN_MEMORY and not Path(self.path).resolve().parent.is_dir():
            raise StateStoreError(f"the folder of the state database {self.path!r} does not exist")
        self._purge_sync()

    def _purge_sync(self) -> None:
        conn = self._connection(create=False)
        if conn is not None:
            conn.execute("DELETE FROM linqbot_state WHERE expires_at <= ?", (self.clock(),))

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the backend primitives ----------------------------------------------------------------------------------------

    async def _read(self, scope: str) -> str | None:
        return await self._call(self._read_sync, scope)

    async def _transact(self, scope: str, change: Callable[[str | None], Write]) -> None:
        await self._call(self._transact_sync, scope, change)

    async def _drop(self, scope: str) -> None:
        await self._call(self._drop_sync, scope)

    async def open(self) -> None:
        """Check the file's folder exists, and purge expired records of an existing file."""
        await self._call(self._open_sync)

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._call(self._close_sync)
        self._executor.shutdown(wait=True)
        self._executor = None
