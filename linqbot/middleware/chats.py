"""What the safeguards know about chats, people and lines, learned from webhooks, send responses and chat reads.

The pair limit is per (line, recipient) and opt-outs are per person, but ``send_message`` names only a chat; this
directory maps a chat to its line and participants (from webhooks seen, else one ``GET /v3/chats/{id}``, cached).
Shared facts (health, unanswered counts, reputation, which chat a line has with which people) live in the
`SafeguardStore`; the chat map is a local cache.

The shared (line, people) → chat map holds one key per conversation, so it is given a lifetime: ``CHAT_MAP_TTL``
after the chat was last in use (a webhook from it, a send to its people) it is forgotten, and a send to those
people counts as a new conversation again. A chat's health is stored only while it is not HEALTHY (the default),
so most chats leave no health key at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linqbot.middleware.clock import Clock
from linqbot.middleware.reads import Reads
from linqbot.middleware.store import SafeguardStore
from linqbot.outbound import LinqAPIError, OutboundCall
from linqbot.redact import mask_handle

if TYPE_CHECKING:
    from linqbot.bot import Bot
    from linqbot.dispatch.context import Context

log = logging.getLogger("linqbot.safeguards")

HEALTHY, AT_RISK, CRITICAL, OPTED_OUT = "HEALTHY", "AT_RISK", "CRITICAL", "OPTED_OUT"
_TARGET = "linqbot.safeguards.target"
_READS = "linqbot.safeguards.reads"

CHAT_MAP_TTL = 30 * 86_400.0
"""Seconds the shared chat map remembers a chat after its last use: a month of silence ends a conversation as far
as the new-conversation budget is concerned."""
CHAT_MAP_RESTAMP = 86_400.0
"""A process renews a chat's lifetime at most this often, so a busy chat costs one store write a day, not one per
message; a process's own cache of the map is trusted for as long."""
UNANSWERED_FOR = 30 * 86_400.0
"""Seconds a message to a person counts as unanswered: a month after the last one, a person who never wrote back
may be messaged proactively again (the non-responder and AT_RISK rules look back this far)."""


def _chat_of(line: str, handles: tuple[str, ...]) -> str:
    return f"chat_of:{line}:{','.join(handles)}"


def health_key(chat_id: str) -> str:
    return f"health:{chat_id}"


def reputation_key(line: str) -> str:
    return f"line:{line}:reputation"


def ineligible_key(line: str) -> str:
    """Until when Linq's 403/2027 (the line may not send) is trusted without asking again."""
    return f"ineligible:{line}"


def unanswered_key(handle: str) -> str:
    return f"unanswered:{handle}"


@dataclass(frozen=True)
class ChatInfo:
    """A chat's line and the other participants (empty when not known yet)."""

    chat_id: str
    line: str | None
    handles: tuple[str, ...]
    is_group: bool
    service: str | None = None


@dataclass(frozen=True)
class ChatView:
    """``ctx.chat``: the chat as the safeguards see it when the handler starts."""

    id: str
    health: str
    """HEALTHY, AT_RISK, CRITICAL or OPTED_OUT (Linq's ``health_status``; HEALTHY until Linq says otherwise)."""
    line: str | None
    line_reputation: str
    is_group: bool
    service: str | None


@dataclass(frozen=True)
class Scope:
    """The inbound message being handled: sends into its chat (or to its sender) are replies, not proactive."""

    chat_id: str | None
    sender: str | None


current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("linqbot_safeguard_scope", default=None)


@dataclass(frozen=True)
class Target:
    """Who an outbound call reaches, as far as the safeguards can tell before sending it."""

    chat_id: str | None
    line: str
    handles: tuple[str, ...]
    is_group: bool
    is_new_chat: bool
    """A create/auto send to people the bot has no known chat with on this line."""
    is_reply: bool
    """Answers the person (or chat) whose inbound message is being handled right now."""

    @property
    def people(self) -> tuple[str, ...]:
        """The recipients person-level rules (opt-out, non-responders) apply to: DMs only, as at Linq."""
        return () if self.is_group else self.handles


class Directory:
    """Chat map, health, line reputation and per-person counters for the safeguards."""

    def __init__(self, bot: Bot, store: SafeguardStore, clock: Clock) -> None:
        self.bot = bot
        self.store = store
        self.clock = clock
        self._chats: dict[str, ChatInfo] = {}
        self._by_members: dict[tuple[str, tuple[str, ...]], tuple[str, float]] = {}
        """(line, people) → (chat id, when this process last renewed its lifetime in the store)."""
        self._lookups: dict[str, asyncio.Future[ChatInfo | None]] = {}
        self._health_changed = asyncio.Event()
        self.event_keys: list[Callable[[Context], Iterable[str]]] = [self._chat_keys]
        """What the inbound safeguards read per event (each adds its own), fetched together by `event_reads`."""
        self.send_keys: list[Callable[[Target], Iterable[str]]] = []
        """What the outbound safeguards read per send, fetched together by `send_reads`."""
        self._event_reads: weakref.WeakKeyDictionary[Context, Reads] = weakref.WeakKeyDictionary()

    # -- reads -------------------------------------------------------------------------------------------------

    def event_reads(self, ctx: Context) -> Reads:
        """The values the inbound safeguards check ``ctx`` against, read in one round trip."""
        reads = self._event_reads.get(ctx)
        if reads is None:
            keys = [key for keys_of in self.event_keys for key in keys_of(ctx)]
            reads = self._event_reads[ctx] = Reads(self.store, keys)
        return reads

    async def send_reads(self, call: OutboundCall) -> Reads:
        """The values the outbound gates check ``call`` against, read in one round trip."""
        reads = call.extras.get(_READS)
        if not isinstance(reads, Reads):
            target = await self.target(call)
            keys = [key for keys_of in self.send_keys for key in keys_of(target)]
            reads = call.extras[_READS] = Reads(self.store, keys)
        return reads

    def _chat_keys(self, ctx: Context) -> list[str]:
        """``ctx.chat``'s health and its line's reputation."""
        if ctx.chat_id is None:
            return []
        info = self._chats.get(ctx.chat_id)
        owner = ctx.message.chat.owner_handle if ctx.message is not None else None
        line = owner.handle if owner is not None else info.line if info is not None else None
        return [health_key(ctx.chat_id)] + ([reputation_key(line)] if line else [])

    @property
    def default_line(self) -> str:
        return self.bot.client.phone_number or "auto"

    # -- chats -------------------------------------------------------------------------------------------------

    async def learn(self, info: ChatInfo) -> None:
        known = self._chats.get(info.chat_id)
        if known is not None and not info.handles:
            info = ChatInfo(info.chat_id, info.line or known.line, known.handles, info.is_group, info.service)
        self._chats[info.chat_id] = info
        if info.handles and info.line:
            await self._map((info.line, tuple(sorted(info.handles))), info.chat_id)

    async def _map(self, members: tuple[str, tuple[str, ...]], chat_id: str) -> None:
        """Record (or renew) the chat ``members`` share for ``CHAT_MAP_TTL``, at most once a ``CHAT_MAP_RESTAMP``."""
        now = self.clock.now()
        known = self._by_members.get(members)
        if known is not None and known[0] == chat_id and now - known[1] < CHAT_MAP_RESTAMP:
            return
        self._by_members[members] = (chat_id, now)
        await self.store.set(_chat_of(*members), chat_id, ttl=CHAT_MAP_TTL)

    async def _chat_with(self, line: str, handles: tuple[str, ...]) -> str | None:
        """The chat this line has with exactly ``handles``, as learned by any process sharing the store: a process
        that never saw the person's webhooks must not take a send to them for a brand-new conversation."""
        members = (line, handles)
        known = self._by_members.get(members)
        if known is not None and self.clock.now() - known[1] < CHAT_MAP_RESTAMP:
            return known[0]
        chat_id = await self.store.get(_chat_of(line, handles))
        if chat_id is None:
            self._by_members.pop(members, None)  # forgotten by every process: its lifetime ran out
            return None
        await self._map(members, chat_id)  # a send to them is a use
        return chat_id

    def cached(self, chat_id: str) -> ChatInfo | None:
        return self._chats.get(chat_id)

    async def resolve(self, chat_id: str) -> ChatInfo | None:
        """The chat's line and participants; reads the chat from Linq once when no webhook told us yet."""
        info = self._chats.get(chat_id)
        if info is not None and (info.handles or not info.is_group) and info.line:
            return info
        pending = self._lookups.get(chat_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ChatInfo | None] = asyncio.get_running_loop().create_future()
        self._lookups[chat_id] = future
        result: ChatInfo | None = None
        try:
            result = await self._read_chat(chat_id)
        finally:
            del self._lookups[chat_id]
            future.set_result(result)
        return result

    async def _read_chat(self, chat_id: str) -> ChatInfo | None:
        try:
            chat = await self.bot.client.get_chat(chat_id)
        except LinqAPIError as exc:
            log.debug("could not read chat %s for the safeguards: %s", chat_id, exc)
            return self._chats.get(chat_id)
        line = next((h.handle for h in chat.handles if h.is_me), None)
        others = tuple(h.handle for h in chat.handles if not h.is_me and h.left_at is None)
        info = ChatInfo(chat_id, line, others, chat.is_group, chat.service)
        await self.learn(info)
        await self.set_health(chat_id, chat.health_status.status)
        return info

    async def target(self, call: OutboundCall) -> Target:
        """Resolve (once per call) which line and people ``call`` reaches."""
        found = call.extras.get(_TARGET)
        if isinstance(found, Target):
            return found
        scope = current_scope.get()
        if call.chat_id is not None:
            info = await self.resolve(call.chat_id)
            target = Target(
                chat_id=call.chat_id,
                line=(info.line if info and info.line else None) or self.default_line,
                handles=info.handles if info else (),
                is_group=info.is_group if info else False,
                is_new_chat=False,
                is_reply=scope is not None and scope.chat_id == call.chat_id,
            )
        else:
            handles = tuple(sorted(call.to))
            line = call.from_ or self.default_line
            chat_id = await self._chat_with(line, handles)
            target = Target(
                chat_id=chat_id,
                line=line,
                handles=handles,
                is_group=len(handles) > 1,
                is_new_chat=chat_id is None,
                is_reply=scope is not None
                and ((chat_id is not None and chat_id == scope.chat_id) or handles == (scope.sender,)),
            )
        call.extras[_TARGET] = target
        return target

    async def learn_from_response(self, call: OutboundCall, target: Target, response: Any) -> str | None:
        """Record the chat a create/auto send opened or reused; returns its id."""
        chat = getattr(response, "chat", None)
        chat_id = getattr(response, "chat_id", None) or getattr(chat, "id", None) or target.chat_id
        if not isinstance(chat_id, str):
            return None
        line = getattr(response, "from_", None) or target.line
        service = getattr(chat, "service", None) or getattr(response, "service", None)
        if call.chat_id is None:
            await self.learn(ChatInfo(chat_id, line, target.handles, target.is_group, service))
        return chat_id

    # -- health ------------------------------------------------------------------------------------------------

    async def health(self, chat_id: str | None, reads: Reads | None = None) -> str:
        if chat_id is None:
            return HEALTHY
        return await (reads or self.store).get(health_key(chat_id)) or HEALTHY

    async def set_health(self, chat_id: str, status: str | None, reads: Reads | None = None) -> None:
        """Record Linq's latest score; HEALTHY is stored as no key, so only chats with a problem keep one."""
        if not status:
            return
        status = status.upper()
        values = reads or self.store
        if await self.health(chat_id, reads) != status:
            if status == HEALTHY:
                await values.delete(health_key(chat_id))
            else:
                await values.set(health_key(chat_id), status)
            log.info("chat %s health is now %s", chat_id, status)
            self._health_changed.set()
            self._health_changed = asyncio.Event()

    async def wait_health_change(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` real seconds) for any chat's health to change; True if one did."""
        try:
            await asyncio.wait_for(self._health_changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def line_reputation(self, line: str | None, reads: Reads | None = None) -> str:
        if line is None:
            return HEALTHY
        return await (reads or self.store).get(reputation_key(line)) or HEALTHY

    async def set_line(self, line: str, *, reputation: str | None = None, status: str | None = None) -> None:
        """Record what Linq reports of a line. ``status`` is a change of its status: to ACTIVE means it may send
        again, so a cached 2027 refusal is forgotten at once instead of when its time is up; to FLAGGED is only logged
        (Linq's next 2027 is what holds sends, so a flag that limits nothing costs no message)."""
        if reputation:
            await self.store.set(reputation_key(line), reputation.upper())
        status = (status or "").upper()
        if status == "ACTIVE":
            await self.store.delete(ineligible_key(line))
        elif status == "FLAGGED":
            log.warning("line %s is FLAGGED by Linq: its sends may be refused (403/2027)", mask_handle(line))

    # -- people ------------------------------------------------------------------------------------------------

    async def unanswered(self, handle: str) -> int:
        """Messages sent to ``handle`` since they last wrote (or reacted), within the last ``UNANSWERED_FOR``."""
        return await self.store.count(unanswered_key(handle), UNANSWERED_FOR, self.clock.now())

    async def view(self, chat_id: str | None, reads: Reads | None = None) -> ChatView | None:
        if chat_id is None:
            return None
        info = self._chats.get(chat_id)
        line = info.line if info else None
        return ChatView(
            id=chat_id,
            health=await self.health(chat_id, reads),
            line=line,
            line_reputation=await self.line_reputation(line, reads),
            is_group=info.is_group if info else False,
            service=info.service if info else None,
        )
