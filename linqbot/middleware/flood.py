"""Inbound flood control: one person sending a burst does not make the bot answer every message.

Answering a burst one by one multiplies outbound volume, spends the pair's 30 / 60 s allowance, and is how two bots
end up in a loop. Beyond ``max_messages`` in ``per_seconds`` from one sender, messages are still acknowledged (Linq
sees 200, nothing is retried) and tracked (opt-outs still count) but not dispatched to handlers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.middleware.chats import Directory
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.flood")


@dataclass(frozen=True)
class Flood:
    max_messages: int = 8
    per_seconds: float = 10.0


class FloodControl:
    """Outer middleware ``flood_control``."""

    def __init__(self, settings: Flood, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> Any:
        sender = ctx.sender
        if ctx.event.event_type != "message.received" or sender is None:
            return await call_next(ctx)
        settings, directory = self.settings, self.directory
        count = await directory.store.hit(f"flood:{sender}", settings.per_seconds, directory.clock.now())
        if count > settings.max_messages:
            log.warning(
                "flood from %s: %d messages in %.0f s; message %s acknowledged, not dispatched",
                mask_handle(sender),
                count,
                settings.per_seconds,
                ctx.event.event_id,
            )
            directory.bot.metrics.gate("flood_control", "dropped")
            return None
        return await call_next(ctx)
