"""What the state plugin adds to a bot: the store, and the outer middleware that binds state onto every Context.

Binding is cheap — a few attribute writes and no store I/O — except that the sender's flow state is read before
routing when some handler filters by ``state=`` (the filter needs it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from linqbot.dispatch import Context
from linqbot.dispatch.middleware import Next
from linqbot_state.ask import DEFAULT_ASK_TIMEOUT, Asks, Turn
from linqbot_state.backends import URL_SETTING, Factory, default_url, store_from_url
from linqbot_state.flows import StateFilter
from linqbot_state.store import StateStore

if TYPE_CHECKING:
    from linqbot.bot import Bot
    from linqbot.events import Message

log = logging.getLogger("linqbot.state")

MIDDLEWARE_NAME = "state"
MESSAGE_RECEIVED = "message.received"


class Unavailable:
    """Stands in for ``ctx.state`` / ``ctx.person_state`` on events without a chat or a sender; any use says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(self.reason)


class StateRuntime:
    """The state plugin's per-bot part: store resolution, flow detection, parked asks, and the middleware."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.asks = Asks()
        self._flows_generation = -1
        self._flow_event_types: frozenset[str] = frozenset()
        self._checked_store: StateStore | None = None

    def install(self) -> None:
        if not hasattr(self.bot, "state_store"):
            self.bot.state_store = None  # type: ignore[attr-defined]
        self.bot.outer_middleware.add(self.middleware, name=MIDDLEWARE_NAME)

    # -- the store ---------------------------------------------------------------------------------------------------

    @property
    def store(self) -> StateStore:
        """``bot.state_store`` if one was assigned, else the store ``LINQBOT_STATE_URL`` names (built once)."""
        store = getattr(self.bot, "state_store", None)
        if store is self._checked_store and store is not None:
            return store  # read on every event: the type check runs once per assigned store
        if store is None:
            store = self._store_from_config()
            self.bot.state_store = store  # type: ignore[attr-defined]
        elif not isinstance(store, StateStore):
            raise TypeError(f"bot.state_store must be a linqbot_state.StateStore, got {type(store).__name__}")
        self._checked_store = store
        return store

    def _store_from_config(self) -> StateStore:
        url = self.bot.config.extra.get(URL_SETTING) or default_url()
        backends: dict[str, Factory] = {}
        for table in self.bot.plugins.collect("linqbot_storage_backends"):
            backends.update(table)
        return store_from_url(url, backends)

    async def startup(self) -> None:
        store = self.store
        await store.open()
        log.info("conversation state in %r", store)

    async def shutdown(self) -> None:
        await self.asks.cancel_all()
        store = getattr(self.bot, "state_store", None)
        if isinstance(store, StateStore):
            await store.close()

    # -- per event ---------------------------------------------------------------------------------------------------

    def reads_flow_for(self, event_type: str) -> bool:
        """Whether some ``event_type`` handler filters by ``state=`` (recomputed only when the router tree changes)."""
        generation = self.bot.generation
        if generation != self._flows_generation:
            self._flow_event_types = frozenset(
                event_type
                for router in self.bot.walk()
                for event_type, handlers in router.handlers.items()
                for handler in handlers
                if any(isinstance(flt.check, StateFilter) for flt in handler.filters)
            )
            self._flows_generation = generation
        return event_type in self._flow_event_types

    async def middleware(self, ctx: Context, call_next: Next[Context]) -> Any:
        chat_id, sender = ctx.chat_id, ctx.sender
        store = self.store
        binding = Binding(self, ctx, store, chat_id, sender)
        event_type = ctx.event.event_type
        if chat_id is None or sender is None:
            return await call_next(ctx)
        turn = self.asks.waiting((chat_id, sender)) if self.asks else None
        message = ctx.message
        if (
            turn is not None
            and message is not None
            and event_type == MESSAGE_RECEIVED
            and message.reconciled_at is None
        ):
            return await turn.resume(message)
        if not self.bot.dispatcher.handles(event_type):
            return await call_next(ctx)
        if self.reads_flow_for(event_type):
            ctx.__dict__["current_state"] = await store.get_flow(chat_id, sender)
        binding.turn = Turn((chat_id, sender))
        return await binding.turn.run(call_next(ctx))


class Binding:
    """The state API of one Context: bound onto it as ``ctx.state``, ``ctx.set_state``, ``ctx.ask`` …"""

    __slots__ = ("chat_id", "ctx", "runtime", "sender", "store", "turn")

    def __init__(self, runtime: StateRuntime, ctx: Context, store: StateStore, chat_id: str | None, sender: str | None):
        self.runtime = runtime
        self.ctx = ctx
        self.store = store
        self.chat_id = chat_id
        self.sender = sender
        self.turn: Turn | None = None
        kind = ctx.event.event_type
        ctx.__dict__.update(
            state=store.chat(chat_id) if chat_id else Unavailable(f"a {kind} event has no chat, so no ctx.state"),
            person_state=store.person(sender)
            if sender
            else Unavailable(f"a {kind} event has no sender, so no ctx.person_state"),
            current_state=None,
            set_state=self.set_state,
            clear_state=self.clear_state,
            get_state=self.get_state,
            ask=self.ask,
        )

    def _where(self) -> tuple[str, str]:
        if self.chat_id is None or self.sender is None:
            raise RuntimeError(f"flows need a chat and a sender; a {self.ctx.event.event_type} event lacks one")
        return self.chat_id, self.sender

    async def set_state(self, state: str, *, ttl: float | None = None) -> None:
        """Move the sender into flow state ``state`` in this chat (abandoned after ``ttl`` seconds, if given)."""
        chat_id, sender = self._where()
        await self.store.set_flow(chat_id, sender, state, ttl=ttl)
        self.ctx.__dict__["current_state"] = state

    async def clear_state(self) -> None:
        """End the sender's flow in this chat."""
        chat_id, sender = self._where()
        await self.store.clear_flow(chat_id, sender)
        self.ctx.__dict__["current_state"] = None

    async def get_state(self) -> str | None:
        """Read the sender's flow state from the store (``ctx.current_state`` is preloaded only for bots with
        ``state=`` handlers) and refresh ``ctx.current_state``."""
        chat_id, sender = self._where()
        state = await self.store.get_flow(chat_id, sender)
        self.ctx.__dict__["current_state"] = state
        return state

    async def ask(self, question: Any = None, *, timeout: float | None = DEFAULT_ASK_TIMEOUT, **reply: Any) -> Message:
        """Send ``question`` with ``ctx.reply`` (same arguments), then return the sender's next message in this chat.

        The answer is consumed: no handler sees it. Raises `AskTimeout` when no answer came within ``timeout``.
        """
        turn = self.turn
        if turn is None or turn.task is None:
            raise RuntimeError(f"ctx.ask needs a chat and a sender; a {self.ctx.event.event_type} event lacks one")
        if asyncio.current_task() is not turn.task:
            raise RuntimeError(
                "await ctx.ask directly in the handler (pass timeout= instead of wrapping it in a task or wait_for)"
            )
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
        if turn.key in self.runtime.asks:
            raise RuntimeError("ctx.ask is already waiting for an answer from this person in this chat")
        await self.ctx.reply(question, **reply)
        return await self.runtime.asks.wait_answer(turn, timeout)
