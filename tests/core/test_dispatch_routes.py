"""What the compiled routes settle once per event: late (reconciled) messages, async filters, case-folded text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from linqbot import Bot, Context
from linqbot.events import Event, parse_event
from tests.conftest import load_fixture, with_event_id

pytestmark = pytest.mark.usefixtures("linq_env")


def message_event(text: str, **changes: Any) -> Event:
    payload = with_event_id(load_fixture("message.received"))
    payload["data"]["parts"] = [{"type": "text", "value": text}]
    payload["data"].update(changes)
    return parse_event(json.dumps(payload).encode())


async def test_late_messages_reach_only_handlers_that_accept_them() -> None:
    bot, seen = Bot(env_file=None), []

    @bot.on_message(text="hi")
    async def live_only(ctx: Context) -> None:
        seen.append(("live", ctx.event.event_id))

    @bot.on_message(text="hi", reconciled=True)
    async def history_too(ctx: Context) -> None:
        seen.append(("any", ctx.event.event_id))

    live = message_event("hi")
    late = message_event("hi", reconciled_at="2026-05-14T16:05:00Z")
    await bot.process(live)
    await bot.process(late)
    assert seen == [("live", live.event_id), ("any", late.event_id)]


async def test_every_async_filter_of_a_handler_must_pass_in_order() -> None:
    bot, asked, seen = Bot(env_file=None), [], []

    def answering(name: str, verdict: bool) -> Any:
        async def check(ctx: Context) -> bool:
            asked.append(name)
            return verdict

        return check

    @bot.on_message(answering("first", True), answering("second", False))
    async def never(ctx: Context) -> None:
        seen.append("never")

    @bot.on_message(answering("only", True))
    async def single(ctx: Context) -> None:
        seen.append("single")

    await bot.process(message_event("hello"))
    assert asked == ["first", "second", "only"]
    assert seen == ["single"]


async def test_text_filters_ignore_case_and_surrounding_space() -> None:
    bot, seen = Bot(env_file=None), []

    @bot.on_message(text="straße")
    async def exact(ctx: Context) -> None:
        seen.append(("exact", ctx.text))

    @bot.on_message(startswith="order")
    async def prefix(ctx: Context) -> None:
        seen.append(("prefix", ctx.text))

    @bot.on_message(contains=["refund", "cancel"])
    async def any_of(ctx: Context) -> None:
        seen.append(("contains", ctx.text))

    for text in ("  STRASSE ", "  Order #1", "please CANCEL it", "nothing"):
        await bot.process(message_event(text))
    assert seen == [("exact", "  STRASSE "), ("prefix", "  Order #1"), ("contains", "please CANCEL it")]


async def test_a_middleware_rewriting_the_text_is_seen_by_the_text_filters() -> None:
    bot, seen = Bot(env_file=None), []

    @bot.outer_middleware
    async def drop_wake_word(ctx: Context, call_next: Any) -> Any:
        if ctx.text.lower().startswith("bot, "):
            ctx.text = ctx.text[len("bot, ") :]
        return await call_next(ctx)

    @bot.on_message(text="WEATHER")
    async def weather(ctx: Context) -> None:
        seen.append(ctx.text)

    await bot.process(message_event("Bot, Weather"))
    assert seen == ["Weather"]
