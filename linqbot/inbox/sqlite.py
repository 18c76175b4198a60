"""The embedded durable inbox: SQLite in WAL mode, committed in batches; the event loop never waits for an fsync.

Every accept waits for its row to be committed; webhooks that arrive together share one transaction ("group
commit"), and so do the "done" marks of the events finished meanwhile, which nobody waits for. The default
``synchronous=normal`` (WAL) survives any crash of the process — the failure that matters here — and commits without
an fsync, on the event loop itself (checkpoints, which do fsync, run in a thread of their own); ``synchronous=full``
also survives a power cut or kernel panic at the price of an fsync per commit (~10-20 ms on a cloud disk), so its
commits run in a writer thread. Unfinished events are mirrored in memory, so workers read them without I/O; on open,
the mirror is rebuilt from the rows not yet done.

One process per file: scale out with the Redis store instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from linqbot.inbox.store import DEFAULT_RETENTION, Clock, InboxUnavailable, MemoryStore, StoredEvent
from linqbot.sqlite_wal import enable_wal

log = logging.getLogger("linqbot.inbox")

Synchronous = Literal["full", "normal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox_events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    lane TEXT NOT NULL,
    body BLOB,
    accepted_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS inbox_events_unfinished ON inbox_events (seq) WHERE done_at IS NULL;
DROP INDEX IF EXISTS inbox_events_accepted;
"""
"""``seq`` is the rowid, without AUTOINCREMENT (whose counter table was one more page written per commit): a new row
still gets a seq above every stored one, which is all arrival order needs. Pruning walks seq order, so accepted_at
needs no index of its own (a page less per commit); files made with either keep working."""

_PRUNE = """
DELETE FROM inbox_events WHERE done_at IS NOT NULL AND seq < coalesce(
    (SELECT seq FROM inbox_events WHERE accepted_at >= ? ORDER BY seq LIMIT 1),
    (SELECT max(seq) + 1 FROM inbox_events)
)
"""
"""Done rows older than the first row accepted at or after the cutoff: the scan stops at that row, and a clock that
stepped back only keeps a row longer, never forgets one early."""

_MAX_BATCH = 512

_INSERT = "INSERT OR IGNORE INTO inbox_events (event_id, lane, body, accepted_at) VALUES (?, ?, ?, ?)"
_MARK_DONE = "UPDATE inbox_events SET done_at = ?, body = NULL WHERE event_id = ?"

Row = tuple[str, str, bytes, float]
DoneMark = tuple[float, str]


class _Op:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future


class _Batch:
    """What one transaction writes: accepted rows (each awaited: new or a redelivery?), done marks (awaited by
    nobody: a worker moves on at once, and a mark lost in a crash only re-runs its event), other operations."""

    __slots__ = ("accepted", "done", "ops", "rows")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.accepted: list[asyncio.Future[bool]] = []
        self.done: list[DoneMark] = []
        self.ops: list[_Op] = []

    def __bool__(self) -> bool:
        return bool(self.rows or self.done or self.ops)


Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


def _settle(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class _Checkpointer:
    """Copies the WAL back into the database file from a thread and connection of its own, every ``interval``.

    SQLite's automatic checkpoint runs inside the commit that crosses 1000 WAL pages, with an fsync: every accept
    queued behind that commit waited for it (the ingest benchmark's p99 of hundreds of ms). A passive checkpoint
    here never blocks the writer.
    """

    def __init__(self, path: str, interval: float) -> None:
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="linqbot-inbox-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("inbox: WAL checkpoint failed (%s); retrying in %.0f s", exc, self._interval)
        finally:
            conn.close()


def _connect(path: str, synchronous: Synchronous) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    enable_wal(conn)
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job, off the committing thread
    conn.executescript(_SCHEMA)
    return conn


def _insert(conn: sqlite3.Connection, rows: list[Row]) -> list[bool]:
    """Insert ``rows`` as the transaction's first statement; for each, whether it was new (False: a known id).

    One ``executemany`` for the batch; only a batch holding a known id (a redelivery: rare) is rolled back and
    inserted row by row to tell which."""
    if not rows:
        return []
    before = conn.total_changes
    conn.executemany(_INSERT, rows)
    if conn.total_changes - before == len(rows):
        return [True] * len(rows)
    conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")
    return [conn.execute(_INSERT, row).rowcount == 1 for row in rows]


def _commit(conn: sqlite3.Connection, batch: _Batch) -> tuple[list[Outcome], bool]:
    """Write ``batch`` in one transaction: each future's outcome (all fail if the commit does), and whether it
    committed (the done marks of a failed batch go into the next one)."""
    outcomes: list[Outcome] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        outcomes += zip(batch.accepted, _insert(conn, batch.rows), itertools.repeat(None))
        if batch.done:
            conn.executemany(_MARK_DONE, batch.done)
        for op in batch.ops:
            try:
                outcomes.append((op.future, op.fn(conn), None))
            except sqlite3.Error as exc:
                outcomes.append((op.future, None, exc))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        log.warning("inbox: SQLite commit failed (%s); %d done marks kept for the next one", exc, len(batch.done))
        futures = [*batch.accepted, *(op.future for op in batch.ops)]
        return [(future, None, exc) for future in futures], False
    return outcomes, True


class _LoopWriter:
    """Commits on the event loop: what is written during one loop iteration shares one transaction.

    With ``synchronous=normal`` a WAL commit is a write to the page cache, no fsync (checkpoints run elsewhere), so
    it costs the loop microseconds; a writer thread cost far more, in GIL hand-offs and wake-ups per batch, and
    held every accept behind the GIL while the loop was busy (p99 of ~0.4-1.3 s in the ingest benchmark).
    """

    def __init__(self, path: str, synchronous: Synchronous, checkpoint_interval: float = 1.0) -> None:
        self._conn = _connect(path, synchronous)
        self._batch = _Batch()
        self._scheduled = False
        self._checkpointer = _Checkpointer(path, checkpoint_interval)
        self._checkpointer.start()

    def _schedule(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return loop

    def accept(self, row: Row) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = self._schedule().create_future()
        self._batch.rows.append(row)
        self._batch.accepted.append(future)
        return future

    def mark_done(self, mark: DoneMark) -> None:
        self._schedule()
        self._batch.done.append(mark)

    def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._schedule().create_future()
        self._batch.ops.append(_Op(fn, future))
        return future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._batch = self._batch, _Batch()
        if not batch:
            return
        outcomes, committed = _commit(self._conn, batch)
        if not committed:
            self._batch.done[:0] = batch.done
        _settle(outcomes)

    async def stop(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)  # first: closing the last connection checkpoints the rest
        self._flush()
        self._conn.close()


_Queued = tuple[Row, asyncio.Future[bool]] | DoneMark | _Op | None


class _Writer:
    """The one thread that owns the connection; what is queued meanwhile is written in a single transaction.

    For ``synchronous=full``, whose every commit waits for an fsync that must not block the event loop.
    """

    def __init__(self, path: str, synchronous: Synchronous, checkpoint_interval: float = 1.0) -> None:
        self._path = path
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._checkpointer = _Checkpointer(path, checkpoint_interval)
        self._thread = threading.Thread(target=self._run, name="linqbot-inbox-sqlite", daemon=True)
        self._thread.start()

    def accept(self, row: Row) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put((row, future))
        return future

    def mark_done(self, mark: DoneMark) -> None:
        self._queue.put(mark)

    def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Op(fn, future))
        return future

    async def stop(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)  # first: the writer's close then checkpoints the rest
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        conn = _connect(self._path, self._synchronous)
        try:
            self._checkpointer.start()
            while (batch := self._next_batch()) is not None:
                outcomes, committed = _commit(conn, batch)
                if not committed:
                    for mark in batch.done:
                        self._queue.put(mark)
                # One wake-up per event loop and batch, not per future: each writes to the loop's self-pipe.
                by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
                for outcome in outcomes:
                    by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
                for loop, settled in by_loop.items():
                    loop.call_soon_threadsafe(_settle, settled)
        finally:
            conn.close()

    def _next_batch(self) -> _Batch | None:
        """Wait for work, then take whatever else is queued (up to ``_MAX_BATCH``); None once stopped."""
        batch = _Batch()
        item = self._queue.get()
        size = 0
        while item is not None:
            if isinstance(item, _Op):
                batch.ops.append(item)
            elif isinstance(item[1], asyncio.Future):
                batch.rows.append(item[0])
                batch.accepted.append(item[1])
            else:
                batch.done.append(item)
            size += 1
            if size >= _MAX_BATCH:
                return batch
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch
        self._queue.put(None)  # stopping: write this batch first, then stop
        return batch if batch else None


class SQLiteStore(MemoryStore):
    """Durable single-process inbox in the SQLite file at ``path``."""

    def __init__(
        self,
        path: str | Path,
        *,
        retention: float = DEFAULT_RETENTION,
        synchronous: Synchronous = "normal",
        clock: Clock = time.time,
    ) -> None:
        super().__init__(retention=retention, clock=clock)
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        self.path = Path(path)
        self._synchronous: Synchronous = synchronous
        self._writer: _Writer | _LoopWriter | None = None

    def _db(self) -> _Writer | _LoopWriter:
        if self._writer is None:
            raise RuntimeError("the SQLite inbox is not open")
        return self._writer

    async def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = _LoopWriter if self._synchronous == "normal" else _Writer
        self._writer = writer(str(self.path), self._synchronous)

        def unfinished(conn: sqlite3.Connection) -> list[tuple[str, str, bytes]]:
            rows = conn.execute("SELECT event_id, lane, body FROM inbox_events WHERE done_at IS NULL ORDER BY seq")
            return rows.fetchall()

        rows: list[tuple[str, str, bytes]] = await self._db().submit(unfinished)
        for event_id, lane, body in rows:
            self._enqueue(StoredEvent(event_id, lane, bytes(body)))
        if rows:
            log.info("inbox: resuming %d unfinished events from %s", len(rows), self.path.name)
        await self.prune()

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.stop()

    async def add(self, event: StoredEvent) -> bool:
        try:
            inserted = await self._db().accept((event.event_id, event.lane, event.body, self.clock()))
        except sqlite3.Error as exc:
            raise InboxUnavailable(f"SQLite inbox {self.path.name}: {exc}") from exc
        if inserted:
            self._enqueue(event)
        return inserted

    async def finish(self, event: StoredEvent) -> None:
        """Done in memory at once; the row is marked in the next commit (a crash before it re-runs the event)."""
        self._db().mark_done((self.clock(), event.event_id))
        self._pop(event)

    async def prune(self) -> int:
        cutoff = self.clock() - self.retention

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(_PRUNE, (cutoff,)).rowcount

        dropped: int = await self._db().submit(delete)
        return dropped
