"""Loop breaker: two bots answering each other would message forever and burn both lines.

Heuristic: a *fast round* is an inbound message written within ``fast_reply_within`` seconds after Linq took in this
bot's last send in the chat, when the bot has sent since the previous inbound (it answered, and was answered at
machine speed). People take longer than that now and then; bots never do. After ``rounds`` fast rounds in a row the
chat gets no auto-replies for ``cooldown`` seconds (messages are acknowledged and logged, handlers don't run). Any
slower inbound resets the count.

Both times are Linq's (the message's ``sent_at``, the send's ``created_at``), not when this process handled the
event: a bot restarted with a backlog answers old messages one after another at machine speed, but each was written
before the answer to the one before it, so none is a fast round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.middleware.chats import Directory
from linqbot.middleware.linq_time import written_at
from linqbot.middleware.tracking import sent_at_key

log = logging.getLogger("linqbot.safeguards.loop_breaker")


@dataclass(frozen=True)
class LoopBreaker:
    fast_reply_within: float = 2.0
    rounds: int = 6
    cooldown: float = 600.0
    remember: float = 300.0
    """Seconds a chat's loop bookkeeping (its last inbound, last send, fast rounds) outlives its last update: far
    longer than a fast round plus any delay in handling the webhook, so a loop is still seen; a chat quiet this long
    starts afresh (it had no fast round going)."""


class LoopGuard:
    """Outer middleware ``loop_breaker``."""

    def __init__(self, settings: LoopBreaker, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    @staticmethod
    def event_reads(ctx: Context) -> list[str]:
        chat_id = ctx.chat_id
        if ctx.event.event_type != "message.received" or chat_id is None:
            return []
        return [f"loop_in:{chat_id}", f"loop_cooldown:{chat_id}", sent_at_key(chat_id), f"loop_rounds:{chat_id}"]

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> Any:
        chat_id = ctx.chat_id
        if ctx.event.event_type != "message.received" or chat_id is None:
            return await call_next(ctx)
        reads, now, settings = self.directory.event_reads(ctx), self.directory.clock.now(), self.settings
        rounds_key = f"loop_rounds:{chat_id}"
        written = written_at(ctx.event)
        previous_inbound = _float(await reads.get(f"loop_in:{chat_id}"))
        if written is not None and written > previous_inbound:
            await reads.set(f"loop_in:{chat_id}", repr(written), ttl=settings.remember)
        if _float(await reads.get(f"loop_cooldown:{chat_id}")) > now:
            log.info("chat %s is cooling down after a reply loop; message not dispatched", chat_id)
            self.directory.bot.metrics.gate("loop_breaker", "dropped")
            return None
        last_sent = await reads.get(sent_at_key(chat_id))
        answered = last_sent is not None and float(last_sent) >= previous_inbound
        if answered and written is not None and 0 <= written - float(last_sent or 0) <= settings.fast_reply_within:
            rounds = await reads.incr(rounds_key, ttl=settings.remember)
            if rounds >= settings.rounds:
                await reads.delete(rounds_key)
                await reads.set(f"loop_cooldown:{chat_id}", repr(now + settings.cooldown), ttl=settings.cooldown)
                log.warning(
                    "chat %s looks like a bot-to-bot loop (%d instant rounds); no auto-replies for %.0f s",
                    chat_id,
                    rounds,
                    settings.cooldown,
                )
                self.directory.bot.metrics.gate("loop_breaker", "tripped")
                return None
        elif await reads.get(rounds_key) is not None:  # most chats have no fast round going: nothing to reset
            await reads.delete(rounds_key)
        return await call_next(ctx)


def _float(value: str | None) -> float:
    return float(value) if value is not None else 0.0
