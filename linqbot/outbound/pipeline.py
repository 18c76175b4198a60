"""Outbound middleware: every API call passes one chain before it reaches the network.

Pacing, opt-out and health gates, logging and test recorders all need the same view of "what is
about to be sent", so each call is described once as an :class:`OutboundCall` and handed down an
ordered list of ``async def mw(call, call_next)`` functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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
_Handler = Callable[[OutboundCall, Next], Awaitable[Any]]


async def _run_terminal(call: OutboundCall, terminal: Next) -> Any:
    return await terminal(call)


def _wrap(mw: OutboundMiddleware, inner: _Handler) -> _Handler:
    async def step(call: OutboundCall, terminal: Next) -> Any:
        async def call_next(next_call: OutboundCall) -> Any:
            return await inner(next_call, terminal)

        return await mw(call, call_next)

    return step


class OutboundChain:
    """Ordered, named outbound middleware; composed when it changes, not on every call."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, OutboundMiddleware]] = []
        self._handler: _Handler = _run_terminal

    def add(self, mw: OutboundMiddleware, name: str | None = None, *, first: bool = False) -> OutboundMiddleware:
        """Append ``mw`` (outermost first), or with ``first`` make it the outermost; the name defaults to the
        function's name, for ``remove``."""
        key = name or getattr(mw, "__name__", None) or repr(mw)
        if key in self.names():
            raise ValueError(f"outbound middleware {key!r} is already registered")
        self._entries.insert(0 if first else len(self._entries), (key, mw))
        self._compose()
        return mw

    def remove(self, name: str) -> None:
        """Drop a middleware by name, e.g. to switch off a built-in behaviour."""
        if name not in self.names():
            raise KeyError(name)
        self._entries = [(key, mw) for key, mw in self._entries if key != name]
        self._compose()

    def names(self) -> list[str]:
        return [key for key, _ in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    async def __call__(self, call: OutboundCall, terminal: Next) -> Any:
        """Run ``call`` through every middleware, then ``terminal`` (which performs the request)."""
        return await self._handler(call, terminal)

    def _compose(self) -> None:
        handler: _Handler = _run_terminal
        for _, mw in reversed(self._entries):
            handler = _wrap(mw, handler)
        self._handler = handler
