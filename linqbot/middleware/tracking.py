"""The bookkeeping every safeguard reads: chats, health, reputation, inbound volume and unanswered counts.

Outer middleware ``safeguard_tracking`` learns from every webhook before routing and sets ``ctx.chat``; outbound
middleware ``safeguard_tracking`` (innermost) records each send that Linq accepted. Removing them leaves the other
safeguards blind, so remove those instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.events import ChatCreatedEvent, MessageEvent, PhoneNumberStatusEvent, ReactionEvent, reported_chat
from linqbot.middleware.chats import UNANSWERED_FOR, ChatInfo, Directory, Scope, current_scope, unanswered_key
from linqbot.middleware.linq_time import accepted_at
from linqbot.middleware.reads import Reads
from linqbot.outbound import OutboundCall
from linqbot.outbound.pipeline import Next as OutboundNext

DAY = 86_400.0
SYNTHETIC_PREFIX = "linqbot."
"""Event types linqbot makes up (``linqbot.opt_out`` …): already tracked as the webhook they came from."""


def budget_key(line: str) -> str:
    return f"budget:{line}"


def inbound_member(message_id: str) -> str:
    """What a line's budgets count an inbound message as: its id, so a re-run of its event counts nothing more."""
    return f"in:{message_id}"


_KEYLESS = "linqbot.safeguards.member"


def outbound_member(call: OutboundCall) -> str:
    """What the budgets and unanswered counts count a send as: its idempotency key, so a re-run of the send (same
    key, deduplicated by Linq) counts once; a send without one is counted per attempt."""
    if call.idempotency_key:
        return f"out:{call.idempotency_key}"
    member = call.extras.get(_KEYLESS)
    if not isinstance(member, str):
        member = call.extras[_KEYLESS] = f"out:{uuid.uuid4().hex}"
    return member


def sent_at_key(chat_id: str) -> str:
    return f"sent_at:{chat_id}"


class Tracking:
    """Feeds the `Directory` from webhooks and accepted sends."""

    def __init__(self, directory: Directory, sent_at_ttl: float | None) -> None:
        self.directory = directory
        self.sent_at_ttl = sent_at_ttl
        """How long the loop breaker needs to know when Linq took in a chat's last send; None: nobody reads it."""

    async def inbound(self, ctx: Context, call_next: Next[Context]) -> Any:
        event = ctx.event
        reads = self.directory.event_reads(ctx)
        if not event.event_type.startswith(SYNTHETIC_PREFIX):
            await self._learn(ctx, reads)
        ctx.chat = await self.directory.view(ctx.chat_id, reads)
        if isinstance(event, MessageEvent) and not event.message.is_from_me:
            token = current_scope.set(Scope(ctx.chat_id, ctx.sender))
            try:
                return await call_next(ctx)
            finally:
                current_scope.reset(token)
        return await call_next(ctx)

    async def _learn(self, ctx: Context, reads: Reads) -> None:
        directory, store, event = self.directory, self.directory.store, ctx.event
        chat = reported_chat(event)  # the chat object the event carries, with Linq's latest health score
        if ctx.chat_id is not None and chat is not None and chat.health_status is not None:
            await directory.set_health(ctx.chat_id, chat.health_status.status, reads)
        if isinstance(event, MessageEvent):
            message = event.message
            owner = message.chat.owner_handle
            line = owner.handle if owner is not None else directory.default_line
            sender = message.sender_handle
            inbound = not message.is_from_me
            handles = (sender,) if inbound and sender and not message.is_group else ()
            await directory.learn(ChatInfo(message.chat_id, line, handles, message.is_group, message.service))
            if inbound and event.event_type == "message.received":
                await store.hit(budget_key(line), inbound_member(message.id), DAY, directory.clock.now())
                if sender:
                    await self._answered(sender, reads)
        elif isinstance(event, ChatCreatedEvent):
            info = event.chat
            own = next((h.handle for h in info.handles if h.is_me), None)
            others = tuple(h.handle for h in info.handles if not h.is_me)
            await directory.learn(ChatInfo(info.id, own, others, info.is_group, info.service))
        elif isinstance(event, ReactionEvent) and ctx.sender and ctx.sender != directory.default_line:
            await self._answered(ctx.sender, reads)
        elif isinstance(event, PhoneNumberStatusEvent):
            change = event.status_change
            # a status change only: the same event also reports reputation-only changes
            moved = change.new_status if change.new_status != change.previous_status else None
            await directory.set_line(change.phone_number, reputation=change.new_reputation, status=moved)

    @staticmethod
    async def _answered(handle: str, reads: Reads) -> None:
        """The person engaged: their unanswered streak ends and sandbox refusals (2008) lapse."""
        await reads.delete(unanswered_key(handle), f"not_allowed:{handle}")

    async def outbound(self, call: OutboundCall, call_next: OutboundNext) -> Any:
        if not call.is_send:
            return await call_next(call)
        directory = self.directory
        target = await directory.target(call)
        response = await call_next(call)
        chat_id = await directory.learn_from_response(call, target, response)
        created = getattr(response, "chat", None)
        health = getattr(getattr(created, "health_status", None), "status", None)
        store, now = directory.store, directory.clock.now()
        if chat_id is not None:
            await directory.set_health(chat_id, health)
            if self.sent_at_ttl is not None:
                sent_at = accepted_at(response)  # Linq's clock, like the sent_at of the answer (loop breaker)
                stamp = repr(sent_at if sent_at is not None else now)
                await store.set(sent_at_key(chat_id), stamp, ttl=self.sent_at_ttl)
        for handle in target.people:  # a re-run of this send (same key) is no further unanswered message
            await store.hit(unanswered_key(handle), outbound_member(call), UNANSWERED_FOR, now)
        return response
