"""Per-chat ordering: one chat's events run one at a time in arrival order; chats run concurrently.

A worker task exists only while its chat has queued events, so idle chats cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("linqbot.inbox")

T = TypeVar("T")


class ChatQueues(Generic[T]):
    """Feeds items to ``process`` with per-key FIFO order under a global concurrency bound."""

    def __init__(self, process: Callable[[T], Awaitable[None]], max_concurrency: int = 64) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._process = process
        self._queues: dict[str, deque[T]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Items accepted and not yet finished."""
        return self._pending

    def submit(self, key: str, item: T) -> None:
        """Queue ``item`` behind earlier items with the same key; never blocks."""
        self._pending += 1
        self._idle.clear()
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        self._queues[key] = deque((item,))
        worker = asyncio.get_running_loop().create_task(self._run(key))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _run(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                async with self._slots:
                    try:
                        await self._process(item)
                    except Exception:
                        log.exception("unhandled error while processing a queued event")
                queue.popleft()
                self._finish_one()
        finally:
            del self._queues[key]
            # Cancelled mid-queue: the rest of this chat's items will never run here.
            for _ in queue:
                self._finish_one()

    def _finish_one(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every accepted item has finished; False when ``timeout`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel(self) -> None:
        """Stop all workers (used after a drain timed out)."""
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
