"""OpenTelemetry spans per event and per handler, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

import pytest

from linqbot import Bot, Context
from linqbot.middleware import Safeguards
from linqbot.observability.instrument import instrument
from linqbot.testing import simulate

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


async def test_event_and_handler_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    bot_trace_ids: list[str | None] = []

    @bot.on_message()
    async def greet(ctx: Context) -> None:
        bot_trace_ids.append(ctx.event.trace_id)
        await ctx.reply("hello")

    instrument(bot, spans=True, tracer_provider=provider)
    async with simulate(bot) as sim:
        user = sim.user("+15550100002")
        await user.send("hi")
        await user.expect_reply()
        await sim.idle()
        trace_id = bot_trace_ids[0]

    spans = {span.name: span for span in exporter.get_finished_spans()}
    [received] = sim.emulator.events("message.received")
    event_span = spans["linqbot.event message.received"]
    handler_span = spans["linqbot.handler tests.observability.test_tracing.test_event_and_handler_spans.<locals>.greet"]
    assert handler_span.parent is not None and handler_span.parent.span_id == event_span.context.span_id
    assert event_span.attributes is not None
    assert event_span.attributes["linqbot.event_id"] == received["event_id"]
    assert trace_id and event_span.attributes["linq.trace_id"] == trace_id
    assert event_span.attributes["linqbot.chat_id"] == user.last_chat_id
