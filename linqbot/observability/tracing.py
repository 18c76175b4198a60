"""OpenTelemetry spans per event and per handler, when ``opentelemetry-api`` is installed (never required).

The spans go to whatever tracer provider the application configured; without one the API's no-op provider drops
them. Event spans carry the Linq ``trace_id`` as an attribute so a trace can be matched with Linq support.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from linqbot.dispatch.middleware import Next
from linqbot.observability.naming import handler_name

if TYPE_CHECKING:
    from linqbot.dispatch.context import Context


def available() -> bool:
    return importlib.util.find_spec("opentelemetry") is not None


class Tracing:
    """Outer middleware ``event_span`` and inner middleware ``handler_span``."""

    def __init__(self, tracer_provider: Any = None) -> None:
        from opentelemetry import trace  # optional dependency

        self._tracer = trace.get_tracer("linqbot", tracer_provider=tracer_provider)

    async def event_span(self, ctx: Context, call_next: Next[Context]) -> Any:
        event = ctx.event
        attributes = {"linqbot.event_type": event.event_type, "linqbot.event_id": event.event_id}
        if event.chat_id:
            attributes["linqbot.chat_id"] = event.chat_id
        if event.trace_id:
            attributes["linq.trace_id"] = event.trace_id
        with self._tracer.start_as_current_span(f"linqbot.event {event.event_type}", attributes=attributes):
            return await call_next(ctx)

    async def handler_span(self, ctx: Context, call_next: Next[Context]) -> Any:
        name = handler_name(ctx.handler)
        with self._tracer.start_as_current_span(f"linqbot.handler {name}", attributes={"linqbot.handler": name}):
            return await call_next(ctx)
