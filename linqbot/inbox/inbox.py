"""The inbox: an accepted webhook is stored before Linq gets its 200, and done only after its handlers finished.

``accept`` is one atomic store insert keyed by event id (dedup and persistence in one step), so a redelivery racing
the original — in this process or, with Redis, in another — is refused. Each chat is a *lane* worked by one worker
at a time, which keeps its events in arrival order while chats run concurrently under a global bound. On start,
lanes left unfinished (a crash, a kill, a deploy) are resumed oldest first; on a shared store every process also
sweeps for lanes whose worker died, once their lease lapsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from linqbot.events import Event, InvalidPayload, parse_event
from linqbot.inbox.store import InboxStore, Leadership, MemoryStore, StoredEvent

log = logging.getLogger("linqbot.inbox")

MAX_STORE_BACKOFF = 5.0


class Inbox:
    """Durable, deduplicated, per-chat ordered processing of accepted events."""

    def __init__(
        self,
        process: Callable[[Event], Awaitable[object]],
        *,
        store: InboxStore | None = None,
        max_concurrency: int = 64,
        sweep_interval: float = 2.0,
        prune_interval: float = 600.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.store: InboxStore = store or MemoryStore()
        self._process = process
        self._slots = asyncio.Semaphore(max_concurrency)
        self._sweep_interval = sweep_interval
        self._prune_interval = prune_interval
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._parsed: dict[str, Event] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._opened = False
        self._opening = asyncio.Lock()
        self._maintenance: asyncio.Task[None] | None = None

    def use(self, store: InboxStore) -> None:
        """Swap the store before the inbox opens (the bot picks it from ``inbox=`` / ``LINQBOT_INBOX_URL``)."""
        if self._opened:
            raise RuntimeError("the inbox store cannot change after the inbox started")
        self.store = store

    @property
    def started(self) -> bool:
        return self._opened

    async def start(self) -> None:
        """Open the store and resume unfinished lanes; `accept` calls it on first use."""
        async with self._opening:
            if self._opened:
                return
            await self.store.open()
            self._opened = True
            for lane in await self.store.lanes():
                self._wake(lane)
            self._maintenance = asyncio.get_running_loop().create_task(self._maintain())

    async def close(self) -> None:
        """Stop maintenance and close the store (call after `drain`)."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        if self._opened:
            self._opened = False
            await self.store.close()

    async def accept(self, event: Event) -> bool:
        """Store ``event`` (its webhook body, byte for byte) and queue it; False for a redelivery.

        Raises `InboxUnavailable` when the store cannot be reached; the webhook then answers 503.
        """
        if not self._opened:
            await self.start()
        raw = event.body or event.model_dump_json(by_alias=True).encode()  # an event built in code has no body
        stored = StoredEvent(event.event_id, event.chat_id or f"event:{event.event_id}", raw)
        if not await self.store.add(stored):
            return False
        if not self.store.shared:
            self._parsed[stored.event_id] = event
        self._wake(stored.lane)
        return True

    @property
    def pending(self) -> int:
        """Accepted events this process has still to finish (on a shared store: chats it is working)."""
        return max(self.store.backlog, len(self._workers))

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for this process's queued and running events to finish; False if ``timeout`` ran out."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel(self) -> None:
        """Stop every worker now (after a drain timed out); their events stay stored and run after a restart."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def leadership(self, name: str) -> Leadership:
        """A leader election shared with every process on the same store (always this one for local stores)."""
        return self.store.leadership(name)

    # -- workers ---------------------------------------------------------------------------------------------------

    def _wake(self, lane: str) -> None:
        running = self._workers.get(lane)
        if running is not None and not running.done():
            return
        # A worker that has just released its lane is done but not yet retired: an event accepted in between
        # needs a new worker, or it would wait for the chat's next webhook.
        self._idle.clear()
        worker = asyncio.get_running_loop().create_task(self._work(lane))
        self._workers[lane] = worker
        worker.add_done_callback(lambda done: self._retire(lane, done))

    def _retire(self, lane: str, worker: asyncio.Task[None]) -> None:
        if self._workers.get(lane) is worker:
            del self._workers[lane]
        if not self._workers:
            self._idle.set()

    async def _work(self, lane: str) -> None:
        """Run the lane until it is empty; store failures are retried, never lose the event in hand.

        A worker keeps its concurrency slot from one event to the next and hands it over in between only when every
        slot is taken (a waiting chat then goes first): one acquire per busy spell, not per event.
        """
        claimed = False
        slot = False
        handled: StoredEvent | None = None  # ran, not yet marked done
        delay = 0.05
        try:
            while True:
                try:
                    if not claimed:
                        if not await self.store.claim(lane):
                            return  # another process works this chat; it will see our event
                        claimed = True
                    if handled is not None:
                        await self.store.finish(handled)
                        handled = None
                    item = await self.store.head(lane)
                    if item is None:
                        if slot:
                            slot = False
                            self._slots.release()
                        if await self.store.release(lane):
                            return
                        continue
                    if slot and self._slots.locked():
                        slot = False
                        self._slots.release()
                    if not slot:
                        await self._slots.acquire()
                        slot = True
                    event = self._parsed.pop(item.event_id, None)
                    if event is None:
                        event = self._reparse(item)
                    if event is not None:
                        try:
                            await self._process(event)
                        except Exception:
                            log.exception("unhandled error while processing event %s", item.event_id)
                    handled = item
                    delay = 0.05
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if slot:
                        slot = False
                        self._slots.release()
                    log.warning("inbox: store failed (%s: %s); retrying in %.2f s", type(exc).__name__, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_STORE_BACKOFF)
        finally:
            if slot:
                self._slots.release()

    @staticmethod
    def _reparse(item: StoredEvent) -> Event | None:
        """The event of a stored body (resumed after a restart, or from another process's accept)."""
        try:
            return parse_event(item.body)
        except InvalidPayload as exc:
            log.error("inbox: dropping stored event %s that no longer parses: %s", item.event_id, exc)
            return None

    async def _maintain(self) -> None:
        """Prune old dedup records; on a shared store, pick up lanes whose worker died elsewhere."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + self._prune_interval
        while True:
            await asyncio.sleep(self._sweep_interval if self.store.shared else self._prune_interval)
            try:
                if self.store.shared:
                    for lane in await self.store.lanes():
                        self._wake(lane)
                if loop.time() >= next_prune:
                    next_prune = loop.time() + self._prune_interval
                    dropped = await self.store.prune()
                    if dropped:
                        log.info("inbox: pruned %d event ids past retention", dropped)
            except Exception as exc:
                log.warning("inbox: maintenance failed (%s: %s)", type(exc).__name__, exc)
