"""Monotonic message status: webhooks can arrive late or out of order, so ``read`` must never fall back to
``delivered``. The tracker keeps each message's furthest status and the outer middleware drops events that would
move it backwards, so handlers only ever see progress.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.events import MessageEvent, MessageFailedEvent

log = logging.getLogger("linqbot.inbox")

STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
"""``failed`` is terminal: nothing after it changes the status."""

STATUS_EVENTS = {
    "message.sent": "sent",
    "message.delivered": "delivered",
    "message.read": "read",
    "message.failed": "failed",
}


class StatusTracker:
    """Furthest known status per message id, for the most recent ``max_messages`` messages."""

    def __init__(self, max_messages: int = 100_000) -> None:
        self._status: OrderedDict[str, str] = OrderedDict()
        self._max = max_messages
        self.stale = 0
        """Status events dropped because they arrived after a later status (a measure of webhook reordering)."""

    def get(self, message_id: str) -> str | None:
        return self._status.get(message_id)

    def advance(self, message_id: str, status: str) -> bool:
        """Record ``status``; False (and nothing changes) when it is not beyond the known one."""
        known = self._status.get(message_id)
        if known is not None and STATUS_RANK[status] <= STATUS_RANK[known]:
            return False
        self._status[message_id] = status
        self._status.move_to_end(message_id)
        if len(self._status) > self._max:
            self._status.popitem(last=False)
        return True

    async def middleware(self, ctx: Context, call_next: Next[Context]) -> Any:
        """Outer middleware: status events that do not advance their message are dropped before routing."""
        status = STATUS_EVENTS.get(ctx.event.event_type)
        message_id = _message_id(ctx)
        if status is None or message_id is None:
            return await call_next(ctx)
        if not self.advance(message_id, status):
            self.stale += 1
            log.debug("ignored stale %s for message %s (already %s)", status, message_id, self.get(message_id))
            return None
        return await call_next(ctx)


def _message_id(ctx: Context) -> str | None:
    event = ctx.event
    if isinstance(event, MessageEvent):
        return event.message.id
    if isinstance(event, MessageFailedEvent):
        return event.failure.message_id
    return None
