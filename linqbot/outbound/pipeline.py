"""Outbound middleware: every API call passes one chain before it reaches the network.

Pacing, opt-out and health gates, logging and test recorders all need the same view of "what is
about to be sent", so each call is described once as an :class:`OutboundCall` and handed down an
ordered list of ``async def mw(call, call_next)`` functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from linqbot.dispatch.middleware import MiddlewareManager, compose

__all__ = ["OutboundCall", "OutboundChain", "OutboundMiddleware"]


@dataclass
class OutboundCall:
    """One API call as middleware sees it.

    ``chat_id``/``to``/``from_``/``idempotency_key``/``override_optout`` are the canonical values the
    request is built from, so a middleware that changes them changes what is sent. ``params`` holds the
    op-specific arguments (``message``, ``message_id``, …); ``extras`` is scratch space for middleware.
    """

    op: str
    params: dict[str, Any]
    chat_id: str | None = None
    to: tuple[str, ...] = ()
    from_: str | None = None
    is_send: bool = False
    idempotency_key: str | None = None
    override_optout: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


Next = Callable[[OutboundCall], Awaitable[Any]]
OutboundMiddleware = Callable[[OutboundCall, Next], Awaitable[Any]]


class OutboundChain:
    """Ordered, named outbound middleware (the same manager as inbound middleware); composed when it changes or
    the terminal changes, not on every call."""

    def __init__(self) -> None:
        self._middleware: MiddlewareManager[OutboundCall] = MiddlewareManager(self._forget)
        self._composed: tuple[Next, Next] | None = None  # (terminal, entry)

    def _forget(self) -> None:
        self._composed = None

    def add(self, mw: OutboundMiddleware, name: str | None = None, *, first: bool = False) -> OutboundMiddleware:
        """Append ``mw`` (outermost first), or with ``first`` make it the outermost; the name defaults to the
        function's name, for ``remove``."""
        self._middleware.add(mw, name=name, first=first)
        return mw

    def remove(self, name: str) -> None:
        """Drop a middleware by name, e.g. to switch off a built-in behaviour."""
        self._middleware.remove(name)

    def names(self) -> list[str]:
        return self._middleware.names()

    def __len__(self) -> int:
        return len(self._middleware)

    async def __call__(self, call: OutboundCall, terminal: Next) -> Any:
        """Run ``call`` through every middleware, then ``terminal`` (which performs the request)."""
        composed = self._composed
        if composed is None or composed[0] != terminal:
            composed = self._composed = (terminal, compose(self._middleware.items(), terminal))
        return await composed[1](call)
