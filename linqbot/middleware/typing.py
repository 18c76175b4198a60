"""Typing while a handler works, and natural pauses between the bubbles of a multi-bubble reply.

People read an instant wall of bubbles, or a long silence, as a bot; a typing indicator and short pauses read as a
person. Linq shows typing only in iMessage DMs, for ~60 s per request, and clears it when a message is sent — so
the indicator is refreshed while the handler runs, and only stopped explicitly when no send cleared it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from linqbot.dispatch.context import Context
from linqbot.dispatch.middleware import Next
from linqbot.middleware.chats import Directory
from linqbot.middleware.clock import SystemClock
from linqbot.outbound import LinqAPIError, OutboundCall
from linqbot.outbound.pipeline import Next as OutboundNext

log = logging.getLogger("linqbot.safeguards.typing")


@dataclass(frozen=True)
class Typing:
    after: float = 0.8
    """Show typing once a handler has run this long (fast answers need no indicator)."""
    refresh: float = 55.0
    """Re-send the indicator this often; Linq's lapses after ~60 s."""
    pause_per_char: float = 0.03
    """Pause before each further bubble, per character of that bubble …"""
    pause_min: float = 0.3
    pause_max: float = 2.0
    """… kept within these bounds (seconds)."""

    def bubble_pause(self, text: str) -> float:
        return min(max(len(text) * self.pause_per_char, self.pause_min), self.pause_max)


@dataclass
class _Session:
    chat_id: str
    showing: bool = False
    timer: asyncio.TimerHandle | None = None
    keeper: asyncio.Task[None] | None = None


_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("linqbot_typing_session", default=None)


async def _quietly(call: Awaitable[Any]) -> None:
    """Typing is decoration: a refusal (403 in a group, SMS) or an outage never breaks the handler."""
    try:
        await call
    except LinqAPIError as exc:
        log.debug("typing indicator call failed: %s", exc)


class TypingIndicator:
    """Inner middleware ``typing`` (around handlers) and outbound middleware ``typing`` (bubbles)."""

    def __init__(self, settings: Typing, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory

    def _supported(self, chat_id: str | None) -> bool:
        info = self.directory.cached(chat_id) if chat_id else None
        return info is not None and not info.is_group and info.service == "iMessage"

    async def around_handler(self, ctx: Context, call_next: Next[Context]) -> Any:
        chat_id = ctx.chat_id
        if ctx.event.event_type != "message.received" or chat_id is None or not self._supported(chat_id):
            return await call_next(ctx)
        session = _Session(chat_id)
        token = _session.set(session)
        if type(self.directory.clock) is SystemClock:
            # Real time: a loop timer starts the keeper only for the rare handler still running after ``after``, so
            # a fast handler costs no task.
            loop = asyncio.get_running_loop()
            session.timer = loop.call_later(self.settings.after, self._start_keeper, session, False)
        else:
            self._start_keeper(session, True)  # an injected clock (tests) can only time what sleeps on it
        try:
            return await call_next(ctx)
        finally:
            _session.reset(token)
            if session.timer is not None:
                session.timer.cancel()
            keeper = session.keeper
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            if session.showing:
                await _quietly(self.directory.bot.client.typing_stop(chat_id))

    def _start_keeper(self, session: _Session, wait_first: bool) -> None:
        session.keeper = asyncio.get_running_loop().create_task(self._keep_typing(session, wait_first))

    async def _keep_typing(self, session: _Session, wait_first: bool) -> None:
        clock, client = self.directory.clock, self.directory.bot.client
        if wait_first:
            await clock.sleep(self.settings.after)
        while True:
            session.showing = True  # set first: a cancel mid-request must still end in a stop
            await _quietly(client.typing_start(session.chat_id))
            session.showing = True  # a send that finished meanwhile cleared it before this start landed
            await clock.sleep(self.settings.refresh)

    async def around_send(self, call: OutboundCall, call_next: OutboundNext) -> Any:
        if not call.is_send:
            return await call_next(call)
        bubble = call.extras.get("bubble")
        if isinstance(bubble, tuple) and bubble[0] > 0:
            if self._supported(call.chat_id) and call.chat_id is not None:
                await _quietly(self.directory.bot.client.typing_start(call.chat_id))
            await self.directory.clock.sleep(self.settings.bubble_pause(_text_of(call)))
        result = await call_next(call)
        session = _session.get()
        if session is not None and session.chat_id == call.chat_id:
            session.showing = False  # a sent message clears the indicator by itself
        return result


def _text_of(call: OutboundCall) -> str:
    message = call.params.get("message") or {}
    parts = message.get("parts") or []
    return "".join(str(p.get("value", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")
