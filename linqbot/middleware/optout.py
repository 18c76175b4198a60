"""Opt-out: honour STOP at once, everywhere, and let the person come back by writing again.

Linq rejects every send to an opted-out person (403/2024) across all chats and lines, and its reputation audits count
"messages after stop". Recognising the keywords exactly as Linq does (concepts.md §9) lets linqbot refuse such sends
locally, before any HTTP, and give the bot an ``on_opt_out`` hook instead of an auto-reply to "STOP".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.dispatch.router import OPT_IN_EVENT, OPT_OUT_EVENT
from linqbot.events import MessageEvent
from linqbot.middleware.chats import Directory, Target
from linqbot.middleware.reads import Reads
from linqbot.outbound import OutboundCall
from linqbot.outbound.errors import OptedOut
from linqbot.outbound.pipeline import Next as OutboundNext
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.safeguards.optout")


EXACT_KEYWORDS = frozenset({"STOP", "UNSUBSCRIBE", "OPTOUT", "CANCEL", "END", "QUIT"})
_OPT_OUT_ANY_CASE = re.compile(r"opt[ -]?out", re.IGNORECASE)


def is_opt_out_keyword(text: str) -> bool:
    """Linq's rule: the whole trimmed message is a case-sensitive keyword, or "opt out" in any casing with a space,
    hyphen or nothing between the words. "please stop" and "Stop" are not opt-outs."""
    trimmed = text.strip()
    return trimmed in EXACT_KEYWORDS or _OPT_OUT_ANY_CASE.fullmatch(trimmed) is not None


@dataclass(frozen=True)
class OptOut:
    dispatch_keyword: bool = False
    """Also pass the keyword message to ordinary message handlers (off: only ``on_opt_out`` handlers see it)."""


def _opt_out_key(handle: str) -> str:
    return f"opt_out:{handle}"


class OptOutGuard:
    """Outer middleware ``opt_out`` (keywords in) and outbound middleware ``opt_out`` (sends out)."""

    def __init__(self, settings: OptOut, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    async def is_opted_out(self, handle: str, reads: Reads | None = None) -> bool:
        return await (reads or self.directory.store).get(_opt_out_key(handle)) is not None

    async def mark(self, handle: str) -> None:
        """Opted out for good: the key has no lifetime (only the person writing again clears it)."""
        await self.directory.store.set(_opt_out_key(handle), "1")

    async def clear(self, handle: str) -> None:
        await self.directory.store.delete(_opt_out_key(handle))

    @staticmethod
    def event_reads(ctx: Context) -> list[str]:
        """Whether a person writing in a DM had opted out (writing again opts them back in)."""
        received = ctx.event.event_type == "message.received"
        return [_opt_out_key(ctx.sender)] if received and ctx.sender and not ctx.is_group else []

    @staticmethod
    def send_reads(target: Target) -> list[str]:
        return [_opt_out_key(handle) for handle in target.people]

    async def inbound(self, ctx: Context, call_next: Next[Context]) -> Any:
        event = ctx.event
        if event.event_type != "message.received" or not isinstance(event, MessageEvent) or event.message.is_group:
            return await call_next(ctx)
        sender = event.message.sender_handle
        if sender is None:
            return await call_next(ctx)
        if is_opt_out_keyword(event.message.text):
            await self.mark(sender)
            log.info("%s opted out (keyword in chat %s); sends to them stop", mask_handle(sender), ctx.chat_id)
            await self._dispatch(ctx, event, OPT_OUT_EVENT)
            return await call_next(ctx) if self.settings.dispatch_keyword else None
        if await self.is_opted_out(sender, self.directory.event_reads(ctx)):
            await self.clear(sender)
            log.info("%s opted back in by writing again", mask_handle(sender))
            await self._dispatch(ctx, event, OPT_IN_EVENT)
        return await call_next(ctx)

    @staticmethod
    async def _dispatch(ctx: Context, event: MessageEvent, event_type: str) -> None:
        synthetic = event.model_copy(update={"event_type": event_type, "event_id": f"{event.event_id}:{event_type}"})
        await ctx.bot.dispatcher.feed(Context(ctx.bot, synthetic))

    async def outbound(self, call: OutboundCall, call_next: OutboundNext) -> Any:
        if not call.is_send:
            return await call_next(call)
        target = await self.directory.target(call)
        if not call.override_optout:
            reads = await self.directory.send_reads(call)
            for handle in target.people:
                if await self.is_opted_out(handle, reads):
                    raise OptedOut(
                        f"{mask_handle(handle)} opted out; linqbot did not send (override_optout=True sends one)",
                        status=403,
                        code=2024,
                    )
        try:
            return await call_next(call)
        except OptedOut:
            for handle in target.people:
                await self.mark(handle)
            raise
