"""The inbox accepts verified events: it drops redeliveries, then queues each event behind its chat's earlier ones.

Dedup is the only await before queueing, so a redelivery racing the original cannot slip in between.
The durable inbox (issue 6) replaces both steps with one atomic insert keyed by event id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from linqbot.events import Event
from linqbot.inbox.dedup import Deduplicator, MemoryDeduplicator
from linqbot.inbox.queue import ChatQueues


class Inbox:
    """Dedup + per-chat ordered processing of accepted events."""

    def __init__(
        self,
        process: Callable[[Event], Awaitable[None]],
        *,
        dedup: Deduplicator | None = None,
        max_concurrency: int = 64,
    ) -> None:
        self.dedup = dedup or MemoryDeduplicator()
        self.queues: ChatQueues[Event] = ChatQueues(process, max_concurrency)

    async def accept(self, event: Event) -> bool:
        """Queue ``event``; False when it is a redelivery of an event already accepted."""
        if not await self.dedup.first_sighting(event.event_id):
            return False
        # Account-level events have no chat: each gets its own lane.
        self.queues.submit(event.chat_id or f"event:{event.event_id}", event)
        return True

    @property
    def pending(self) -> int:
        return self.queues.pending

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for accepted events to finish; False if ``timeout`` ran out."""
        return await self.queues.drain(timeout)
