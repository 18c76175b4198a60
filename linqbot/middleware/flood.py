"""Inbound flood control: one sender's burst does not make the bot answer every message of it.

What hurts a line is the row of answers that go out after a burst: each one is a message nobody replied to, and Linq
scores chats by that (the emulator's model: AT_RISK after 5 unanswered, CRITICAL after 10). What people do is send
a few short bubbles at typing speed. So the limit caps a burst at ``max_messages`` but measures over a short
``per_seconds``: a fast typist (a bubble every second or so) never reaches it, a script pasting 40 messages at once
gets 8 answered. Messages are timed by Linq's ``sent_at``, so a backlog handled after a restart is not a burst.

Beyond the limit messages are acknowledged (Linq sees 200, nothing is retried) and tracked (opt-outs still count) but
reach no handler — never silently: the first held message of a burst is logged at INFO (masked sender) and
dispatched to ``on_flood`` handlers, so the bot can say something once; every held message counts in
``linqbot_gate_decisions_total{gate="flood_control", decision="dropped"}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.dispatch.router import FLOOD_EVENT
from linqbot.middleware.chats import Directory
from linqbot.middleware.linq_time import written_at
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.flood")


@dataclass(frozen=True)
class Flood:
    max_messages: int = 8
    """Messages from one sender dispatched within ``per_seconds``; the most a burst gets answered."""
    per_seconds: float = 5.0
    """A short window: a person typing a bubble a second stays under the limit however long they go on."""


HELD_GRACE = 60.0
"""Seconds a sender's last held message is remembered beyond ``per_seconds``: the rest of a burst handled late (a
backlog) still continues it, so ``on_flood`` runs once per burst."""


class FloodControl:
    """Outer middleware ``flood_control``."""

    def __init__(self, settings: Flood, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> Any:
        sender = ctx.sender
        if ctx.event.event_type != "message.received" or sender is None:
            return await call_next(ctx)
        settings, store = self.settings, self.directory.store
        written = written_at(ctx.event) or self.directory.clock.now()
        message_id = ctx.message.id if ctx.message is not None else ctx.event.event_id
        count = await store.hit(f"flood:{sender}", message_id, settings.per_seconds, written)  # a re-run counts once
        if count <= settings.max_messages:
            return await call_next(ctx)
        self.directory.bot.metrics.gate("flood_control", "dropped")
        last_held = await store.get(f"flood_held:{sender}")
        await store.set(f"flood_held:{sender}", repr(written), ttl=settings.per_seconds + HELD_GRACE)
        if last_held is not None and written - float(last_held) < settings.per_seconds:
            log.debug("flood from %s goes on: message %s held", mask_handle(sender), ctx.event.event_id)
            return None
        log.info(
            "flood from %s: more than %d messages in %.0f s; holding the rest of the burst from handlers (chat %s)",
            mask_handle(sender),
            settings.max_messages,
            settings.per_seconds,
            ctx.chat_id,
        )
        synthetic = ctx.event.model_copy(
            update={"event_type": FLOOD_EVENT, "event_id": f"{ctx.event.event_id}:{FLOOD_EVENT}"}
        )
        await ctx.bot.dispatcher.feed(Context(ctx.bot, synthetic))
        return None
