"""``ctx.ask``: a handler parks until the same person answers in the same chat, without blocking the chat's lane.

The inbox runs one event per chat at a time, so a handler that simply awaited the next message would wait for an
event queued behind itself. Instead the state middleware runs every handler in a `Turn` — its own task — and waits
for a *handoff*: the handler finished, or it parked in ``ctx.ask``. Parking releases the lane; the next message from
that person reaches the middleware through the lane as usual, is consumed as the answer (never routed), and that
event's lane waits for the resumed handler to finish or park again. Per-chat ordering is therefore kept: a handler
runs inside exactly one lane at a time, except after an ask timed out (nobody's lane is waiting for it then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from linqbot.events import Message
from linqbot.redact import mask_handle

log = logging.getLogger("linqbot.state")

DEFAULT_ASK_TIMEOUT = 600.0
"""Seconds ``ctx.ask`` waits for an answer by default (``timeout=None`` waits as long as the bot runs)."""

Key = tuple[str, str]
"""(chat id, sender handle): whose answer a parked handler waits for."""


class _Parked:
    def __repr__(self) -> str:
        return "PARKED"


PARKED: Any = _Parked()
"""What dispatch returns for an event whose handler is parked in ``ctx.ask``."""


class AskTimeout(TimeoutError):
    """No answer came within the ``timeout`` of ``ctx.ask`` (a `TimeoutError`, so ``asyncio.TimeoutError`` too)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no answer within {timeout:g} s")
        self.timeout = timeout


class Turn:
    """One handler run that may park in ``ctx.ask`` and be resumed from a later event's lane."""

    __slots__ = ("answer", "handoff", "key", "task")

    def __init__(self, key: Key) -> None:
        self.key = key
        self.task: asyncio.Future[Any] | None = None
        self.handoff: asyncio.Future[Any] | None = None
        self.answer: asyncio.Future[Message] | None = None

    async def run(self, call: Awaitable[Any]) -> Any:
        """Start the handler chain in its own task; return its result, or `PARKED` once it waits for an answer."""
        self.handoff = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(self._drive(call))
        return await self._wait_handoff(self.handoff)

    async def resume(self, message: Message) -> Any:
        """Deliver the answer, then hold this lane until the handler finishes or parks again."""
        assert self.answer is not None
        self.handoff = asyncio.get_running_loop().create_future()
        self.answer.set_result(message)
        return await self._wait_handoff(self.handoff)

    def park(self) -> None:
        """The handler now waits for an answer: release the lane that runs it."""
        if self.handoff is not None and not self.handoff.done():
            self.handoff.set_result(PARKED)

    @property
    def awaiting_answer(self) -> bool:
        return self.answer is not None and not self.answer.done()

    async def _wait_handoff(self, handoff: asyncio.Future[Any]) -> Any:
        try:
            return await handoff
        except asyncio.CancelledError:
            if self.task is not None:  # the lane was cancelled (shutdown): take the handler down with it
                self.task.cancel()
            raise

    async def _drive(self, call: Awaitable[Any]) -> None:
        # Settling the handoff from inside the task (not a done-callback) saves the lane a loop iteration per event.
        try:
            result = await call
        except asyncio.CancelledError:
            self._settle(None, None)
            raise
        except BaseException as exc:
            self._settle(None, exc)
        else:
            self._settle(result, None)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        handoff = self.handoff
        if handoff is None or handoff.done():
            # Finished outside any lane (after an ask timed out): nobody can route the error, so log it.
            if error is not None:
                log.error("handler failed after ctx.ask timed out in chat %s", self.key[0], exc_info=error)
            return
        if error is not None:
            handoff.set_exception(error)
        else:
            handoff.set_result(result)


class Asks:
    """The handlers parked in ``ctx.ask``, by whose answer they wait for."""

    def __init__(self) -> None:
        self._waiting: dict[Key, Turn] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, key: object) -> bool:
        return key in self._waiting

    def waiting(self, key: Key) -> Turn | None:
        """The turn parked for an answer from ``key``, if one still waits."""
        turn = self._waiting.get(key)
        return turn if turn is not None and turn.awaiting_answer else None

    async def wait_answer(self, turn: Turn, timeout: float | None) -> Message:
        """Park ``turn`` (the calling handler) until its answer arrives; raise `AskTimeout` after ``timeout``."""
        if turn.key in self._waiting:
            raise RuntimeError("ctx.ask is already waiting for an answer from this person in this chat")
        answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        turn.answer = answer
        self._waiting[turn.key] = turn
        turn.park()
        try:
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            log.info("ctx.ask timed out after %g s waiting for %s", timeout, mask_handle(turn.key[1]))
            raise AskTimeout(timeout or 0.0) from None
        finally:
            turn.answer = None
            if self._waiting.get(turn.key) is turn:
                del self._waiting[turn.key]

    async def cancel_all(self) -> None:
        """Shutdown: wake every parked handler with `asyncio.CancelledError` and wait for them to unwind."""
        tasks = [turn.task for turn in self._waiting.values() if turn.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
