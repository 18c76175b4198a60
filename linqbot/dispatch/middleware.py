"""Ordered, named middleware lists and the composition of a chain around a terminal call.

Middleware is ``async def mw(ctx, call_next)``: it may act before and after ``await call_next(ctx)``, replace the
result, or not call ``call_next`` at all (short-circuit). Chains are composed once, when they change, so the per-event
cost is one coroutine frame per middleware: each link is a plain function handing back the middleware's own coroutine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar, overload

C = TypeVar("C")
Next = Callable[[C], Awaitable[Any]]
Middleware = Callable[[C, Next[C]], Awaitable[Any]]


def compose(middlewares: Sequence[Middleware[C]], terminal: Next[C]) -> Next[C]:
    """Wrap ``terminal`` so the first middleware runs outermost."""
    call = terminal
    for mw in reversed(middlewares):
        call = _bind(mw, call)
    return call


def _bind(mw: Middleware[C], call_next: Next[C]) -> Next[C]:
    def step(ctx: C) -> Awaitable[Any]:
        return mw(ctx, call_next)

    return step


class MiddlewareManager(Generic[C]):
    """A named, ordered list of middleware; usable as a decorator (``@bot.middleware``) or a call.

    ``on_change`` lets the owner recompose its chain when the list changes.
    """

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self._items: list[tuple[str, Middleware[C]]] = []
        self._on_change = on_change

    @overload
    def __call__(self, mw: Middleware[C], *, name: str | None = None, first: bool = False) -> Middleware[C]: ...

    @overload
    def __call__(
        self, mw: None = None, *, name: str | None = None, first: bool = False
    ) -> Callable[[Middleware[C]], Middleware[C]]: ...

    def __call__(
        self, mw: Middleware[C] | None = None, *, name: str | None = None, first: bool = False
    ) -> Middleware[C] | Callable[[Middleware[C]], Middleware[C]]:
        if mw is None:
            return lambda fn: self.add(fn, name=name, first=first)
        return self.add(mw, name=name, first=first)

    def add(self, mw: Middleware[C], *, name: str | None = None, first: bool = False) -> Middleware[C]:
        """Append (or, with ``first``, prepend) ``mw``; ``name`` defaults to the function's name."""
        if not callable(mw):
            raise TypeError(f"middleware must be callable, got {mw!r}")
        label: str = name or str(getattr(mw, "__name__", type(mw).__name__))
        if label in self.names():
            raise ValueError(f"a middleware named {label!r} is already registered")
        entry = (label, mw)
        if first:
            self._items.insert(0, entry)
        else:
            self._items.append(entry)
        self._on_change()
        return mw

    def remove(self, name: str) -> None:
        """Take out the middleware registered under ``name`` (built-ins are removable this way)."""
        for index, (label, _) in enumerate(self._items):
            if label == name:
                del self._items[index]
                self._on_change()
                return
        raise KeyError(f"no middleware named {name!r}; registered: {', '.join(self.names()) or 'none'}")

    def names(self) -> list[str]:
        return [label for label, _ in self._items]

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Middleware[C]]:
        return [mw for _, mw in self._items]
