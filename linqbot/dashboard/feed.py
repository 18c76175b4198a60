"""The live event stream behind the dashboard: outer middleware that summarises each handled event (no message
text, handles masked), keeps the recent ones, and pushes each to the open dashboards."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from linqbot.dispatch.dispatcher import UNHANDLED
from linqbot.dispatch.middleware import Next
from linqbot.events import MessageEvent
from linqbot.observability.naming import handler_name
from linqbot.redact import mask_handle

if TYPE_CHECKING:
    from linqbot.dispatch.context import Context

Json = dict[str, Any]


@dataclass
class ChatSeen:
    """A chat the bot heard from; ``handle`` stays server-side (opt-out lookups), only its mask is shown."""

    chat_id: str
    handle: str | None
    is_group: bool
    line: str | None
    events: int = 0
    last_event_at: float = 0.0


@dataclass
class EventFeed:
    """Recent events and chats of one bot, and the dashboards listening."""

    keep: int = 200
    events: deque[Json] = field(init=False)
    chats: dict[str, ChatSeen] = field(default_factory=dict)
    listeners: set[asyncio.Queue[Json]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.events = deque(maxlen=self.keep)

    async def record(self, ctx: Context, call_next: Next[Context]) -> Any:
        """Outer middleware ``dashboard_feed``."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = "unhandled" if result is UNHANDLED else "handled"
            return result
        finally:
            self._publish(ctx, outcome, time.perf_counter() - started)

    def _publish(self, ctx: Context, outcome: str, seconds: float) -> None:
        event, now = ctx.event, time.time()
        sender = None
        if isinstance(event, MessageEvent):
            message = event.message
            sender = message.sender_handle
            chat = self.chats.get(message.chat_id)
            if chat is None:
                owner = message.chat.owner_handle
                chat = ChatSeen(message.chat_id, sender, message.is_group, owner.handle if owner else None)
                self.chats[message.chat_id] = chat
            chat.events += 1
            chat.last_event_at = now
        entry = {
            "at": now,
            "event_id": event.event_id,
            "type": event.event_type,
            "chat": event.chat_id,
            "from": mask_handle(sender) if sender else None,
            "handler": handler_name(ctx.handler) if ctx.handler is not None else None,
            "outcome": outcome,
            "ms": round(seconds * 1000, 1),
        }
        self.events.append(entry)
        for listener in list(self.listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled dashboard misses events; the bot never waits
                listener.put_nowait(entry)

    def listen(self) -> asyncio.Queue[Json]:
        queue: asyncio.Queue[Json] = asyncio.Queue(maxsize=1000)
        self.listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[Json]) -> None:
        self.listeners.discard(queue)
