"""`instrument(bot)`: switch on metrics (and OpenTelemetry spans when installed) by adding named middleware.

Nothing here runs for a bot that is not instrumented; the admin server instruments the bot it serves.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from linqbot.dispatch.dispatcher import SkipHandler
from linqbot.dispatch.middleware import Next
from linqbot.middleware import (
    ChatHealthHold,
    DailyBudgetExhausted,
    LineHold,
    NewChatBudgetExhausted,
    NonResponderHold,
)
from linqbot.observability import tracing
from linqbot.observability.naming import handler_name
from linqbot.outbound import LineIneligible, OptedOut, OutboundCall, RecipientBlocked
from linqbot.outbound.pipeline import Next as OutboundNext

if TYPE_CHECKING:
    from linqbot.bot import Bot
    from linqbot.dispatch.context import Context

REFUSALS: tuple[tuple[type[Exception], str, str], ...] = (
    (DailyBudgetExhausted, "pacing", "daily_budget_exhausted"),
    (NewChatBudgetExhausted, "pacing", "new_chat_budget_exhausted"),
    (LineHold, "health", "line_hold"),
    (ChatHealthHold, "health", "chat_hold"),
    (NonResponderHold, "non_responders", "hold"),
    (OptedOut, "opt_out", "blocked"),
    (RecipientBlocked, "health", "recipient_blocked"),
    (LineIneligible, "health", "line_ineligible"),
)
"""Which gate an outgoing message's refusal came from, by the error it raised (most specific first)."""


class Instrumentation:
    """Inner middleware ``handler_timing`` and outbound middleware ``gate_metrics`` for one bot."""

    def __init__(self, bot: Bot) -> None:
        self.metrics = bot.metrics

    async def handler_timing(self, ctx: Context, call_next: Next[Context]) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = "ok"
            return result
        except SkipHandler:
            outcome = "skipped"
            raise
        finally:
            self.metrics.handler(handler_name(ctx.handler), time.perf_counter() - started, outcome)

    async def gate_metrics(self, call: OutboundCall, call_next: OutboundNext) -> Any:
        if not call.is_send:
            return await call_next(call)
        try:
            result = await call_next(call)
        except Exception as exc:
            for error, gate, decision in REFUSALS:
                if isinstance(exc, error):
                    self.metrics.gate(gate, decision)
                    break
            raise
        self.metrics.gate("all", "sent")
        return result


def instrument(bot: Bot, *, spans: bool | None = None, tracer_provider: Any = None) -> None:
    """Turn on ``bot.metrics``; ``spans``: OpenTelemetry spans (default: when ``opentelemetry-api`` is installed),
    from ``tracer_provider`` or the global one. Calling it again does nothing."""
    if bot.metrics.enabled:
        return
    bot.metrics.enable(queue_depth=lambda: bot.inbox.pending)
    parts = Instrumentation(bot)
    bot.middleware.add(parts.handler_timing, name="handler_timing", first=True)
    bot.outbound_middleware.add(parts.gate_metrics, name="gate_metrics", first=True)
    if spans or (spans is None and tracing.available()):
        spans_of = tracing.Tracing(tracer_provider)
        bot.outer_middleware.add(spans_of.event_span, name="event_span", first=True)
        bot.middleware.add(spans_of.handler_span, name="handler_span", first=True)
