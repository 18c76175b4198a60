"""The dispatcher: outer middleware → routing and filters → inner middleware → handler, with error routing.

The handler table is compiled from the router tree once and recompiled only when a router changes, so dispatch does
a dict lookup and a short loop per event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from linqbot.dispatch.filters import all_of, all_of_async
from linqbot.dispatch.middleware import Next, compose
from linqbot.dispatch.router import ErrorHandlerFn, Handler, ReconciledGate, Router
from linqbot.observability.logs import current_event

if TYPE_CHECKING:
    from linqbot.dispatch.context import Context

log = logging.getLogger("linqbot.dispatch")


class SkipHandler(Exception):
    """Raised by ``ctx.skip()``: let the next matching handler have the event."""


class _Unhandled:
    def __repr__(self) -> str:
        return "UNHANDLED"

    def __bool__(self) -> bool:
        return False


UNHANDLED: Any = _Unhandled()
"""What dispatch returns when no handler matched the event."""


Check = Callable[["Context"], Any]
Route = tuple[Check, Check | None, bool, Handler, Next["Context"]]
"""A handler's sync filters fused into one call, its async filters fused into one awaitable call (None: none), whether
it has a ``regex=`` filter (so ``ctx.match`` is its own), the handler, and its callback wrapped in the inner
middleware."""


def _route_for(handler: Handler, run: Next[Context]) -> Route:
    sync = [flt.check for flt in handler.filters if not flt.is_async and not isinstance(flt.check, ReconciledGate)]
    pending = [flt.check for flt in handler.filters if flt.is_async]
    sets_match = any(flt.sets_match for flt in handler.filters)
    return all_of(sync) if sync else _always, all_of_async(pending) if pending else None, sets_match, handler, run


def _always(ctx: Context) -> bool:
    return True


def _takes_late(handler: Handler) -> bool:
    return all(flt.check.accept for flt in handler.filters if isinstance(flt.check, ReconciledGate))


class Dispatcher:
    """Feeds contexts through the compiled router tree rooted at ``root``."""

    def __init__(self, root: Router) -> None:
        self.root = root
        self._generation = -1
        self._routes: dict[str, tuple[Route, ...]] = {}
        self._late_routes: dict[str, tuple[Route, ...]] = {}
        """The routes open to late (reconciled) messages: `ReconciledGate` filters are settled here, at compile time."""
        self._error_handlers: tuple[tuple[type[BaseException], ErrorHandlerFn], ...] = ()
        self._entry: Next[Context] = self._route
        self.fallback_error_handler: Callable[[Context, Exception], Awaitable[bool]] | None = None
        """Tried after ``on_error`` handlers (plugins' ``linqbot_handle_error``); True means handled."""

    def _compile(self) -> None:
        routes: dict[str, list[Route]] = {}
        late_routes: dict[str, list[Route]] = {}
        error_handlers: list[tuple[type[BaseException], ErrorHandlerFn]] = []
        outer: list[Any] = []
        for router in self.root.walk():
            outer.extend(router.outer_middleware.items())
            error_handlers.extend(router.error_handlers)
            inner = [mw for r in router.lineage() for mw in r.middleware.items()]
            for event_type, handlers in router.handlers.items():
                for handler in handlers:
                    route = _route_for(handler, compose(inner, handler.callback))
                    routes.setdefault(event_type, []).append(route)
                    if _takes_late(handler):
                        late_routes.setdefault(event_type, []).append(route)
        self._routes = {event_type: tuple(found) for event_type, found in routes.items()}
        self._late_routes = {event_type: tuple(found) for event_type, found in late_routes.items()}
        self._error_handlers = tuple(error_handlers)
        self._entry = compose(outer, self._route)
        self._generation = self.root.generation

    def handles(self, event_type: str) -> bool:
        """Whether any handler is registered for ``event_type``."""
        self._refresh()
        return event_type in self._routes

    def _refresh(self) -> None:
        if self._generation != self.root.generation:
            self._compile()

    async def feed(self, ctx: Context) -> Any:
        """Dispatch one event. Exceptions go to ``on_error`` handlers, else to the log; they never escape."""
        if self._generation != self.root.generation:
            self._compile()
        logged = current_event.set(ctx.event)
        try:
            return await self._entry(ctx)
        except Exception as exc:
            await self._handle_error(ctx, exc)
            return UNHANDLED
        finally:
            current_event.reset(logged)

    async def _route(self, ctx: Context) -> Any:
        message = ctx.message  # `is_late`, inline: this runs for every event
        late = message is not None and message.reconciled_at is not None
        routes = self._late_routes if late else self._routes
        for check, pending, sets_match, handler, run in routes.get(ctx.event.event_type, ()):
            if not check(ctx):
                continue
            if pending is not None and not await pending(ctx):
                continue
            if not sets_match:
                ctx.match = None  # a regex of a handler that did not match may have left one
            ctx.handler = handler
            try:
                return await run(ctx)
            except SkipHandler:
                continue
        return UNHANDLED

    async def _handle_error(self, ctx: Context, exc: Exception) -> None:
        for exc_type, error_handler in self._error_handlers:
            if isinstance(exc, exc_type):
                try:
                    await error_handler(ctx, exc)
                except Exception:
                    log.exception(
                        "error handler %s failed for event %s", error_handler.__qualname__, ctx.event.event_id
                    )
                return
        if self.fallback_error_handler is not None:
            try:
                if await self.fallback_error_handler(ctx, exc):
                    return
            except Exception:
                log.exception("plugin error handler failed for event %s", ctx.event.event_id)
        log.error(
            "unhandled %s while handling %s event %s",
            type(exc).__name__,
            ctx.event.event_type,
            ctx.event.event_id,
            exc_info=exc,
        )
