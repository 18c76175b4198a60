"""Routing, filters, middleware order, skip, errors, and per-chat ordering under concurrency."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest

from linqbot import UNHANDLED, Bot, Context, Router
from linqbot.events import Event, parse_event
from tests.conftest import load_fixture, with_event_id

pytestmark = pytest.mark.usefixtures("linq_env")


def message_event(text: str = "hello", **changes: Any) -> Event:
    payload = with_event_id(load_fixture("message.received"))
    payload["data"]["parts"] = [{"type": "text", "value": text}]
    for key, value in changes.items():
        payload["data"][key] = value
    return parse_event(json.dumps(payload).encode())


def make_bot() -> Bot:
    return Bot(env_file=None)


async def test_first_matching_handler_wins_in_registration_order() -> None:
    bot, seen = make_bot(), []

    @bot.on_message(text="hi")
    async def exact(ctx: Context) -> None:
        seen.append("exact")

    @bot.on_message(contains="h")
    async def loose(ctx: Context) -> None:
        seen.append("loose")

    @bot.on_message()
    async def fallback(ctx: Context) -> None:
        seen.append("fallback")

    for text in ("  HI ", "oh", "nope"):
        await bot.process(message_event(text))
    assert seen == ["exact", "loose", "fallback"]


async def test_keyword_filters() -> None:
    bot, seen = make_bot(), []

    @bot.on_message(startswith="order", regex=r"#(\d+)")
    async def order(ctx: Context) -> None:
        assert ctx.match is not None
        seen.append(("order", ctx.match.group(1)))

    @bot.on_message(sender="+15555550123", group=False, service="imessage", has_media=False)
    async def known(ctx: Context) -> None:
        seen.append(("known", ctx.text))

    await bot.process(message_event("Order status #42"))
    await bot.process(message_event("hello"))
    await bot.process(message_event("hello", service="SMS"))
    assert seen == [("order", "42"), ("known", "hello")]


async def test_ctx_match_belongs_to_the_handler_that_runs() -> None:
    bot, seen = make_bot(), []

    @bot.on_message(regex=r"order #(\d+)", sender="+15555550999")  # the regex matches, the sender does not
    async def vip_order(ctx: Context) -> None:
        seen.append(("vip", ctx.match))

    @bot.on_message(contains="refund")
    async def refund(ctx: Context) -> None:
        seen.append(("refund", ctx.match))

    @bot.on_message(regex=r"#(\d+)")
    async def order(ctx: Context) -> None:
        assert ctx.match is not None
        seen.append(("order", ctx.match.group(1)))
        ctx.skip()

    @bot.on_message()
    async def fallback(ctx: Context) -> None:
        seen.append(("fallback", ctx.match))

    await bot.process(message_event("refund for order #7"))  # vip's regex matched but vip did not run
    await bot.process(message_event("order #8"))
    assert seen == [("refund", None), ("order", "8"), ("fallback", None)]


async def test_sync_and_async_predicates_and_skip() -> None:
    bot, seen = make_bot(), []

    async def is_question(ctx: Context) -> bool:
        return ctx.text.endswith("?")

    @bot.on_message(is_question)
    async def question(ctx: Context) -> None:
        seen.append("question")
        ctx.skip()

    @bot.on_message(lambda ctx: len(ctx.text) > 3)
    async def long(ctx: Context) -> None:
        seen.append("long")

    await bot.process(message_event("why?"))
    assert seen == ["question", "long"]
    assert await bot.process(message_event("ok")) is UNHANDLED


async def test_unknown_filter_fails_at_registration_naming_every_filter_on_message_takes() -> None:
    bot = make_bot()
    with pytest.raises(TypeError, match="unknown filter colour=") as raised:
        bot.on_message(colour="red")
    known = str(raised.value).partition("known filters: ")[2].split(", ")
    keywords = inspect.signature(Router.on_message).parameters.values()
    assert {p.name for p in keywords if p.kind is p.KEYWORD_ONLY} <= set(known)  # reconciled was left out
    with pytest.raises(TypeError, match="must be an async function"):
        bot.on_message()(lambda ctx: None)  # type: ignore[arg-type,return-value]


async def test_middleware_order_outer_then_inner_and_short_circuit() -> None:
    bot, trail = make_bot(), []
    child = Router("child")
    bot.include_router(child)

    @bot.outer_middleware
    async def outer(ctx: Context, call_next: Any) -> Any:
        trail.append("outer>")
        result = await call_next(ctx)
        trail.append("<outer")
        return result

    @bot.middleware
    async def inner_root(ctx: Context, call_next: Any) -> Any:
        trail.append("root>")
        return await call_next(ctx)

    @child.middleware
    async def inner_child(ctx: Context, call_next: Any) -> Any:
        trail.append("child>")
        if ctx.text == "blocked":
            return "short-circuited"
        return await call_next(ctx)

    @child.on_message()
    async def handler(ctx: Context) -> str:
        trail.append("handler")
        return "handled"

    assert await bot.process(message_event("hi")) == "handled"
    assert trail == ["outer>", "root>", "child>", "handler", "<outer"]
    trail.clear()
    assert await bot.process(message_event("blocked")) == "short-circuited"
    assert trail == ["outer>", "root>", "child>", "<outer"]

    bot.middleware.remove("inner_root")
    trail.clear()
    await bot.process(message_event("hi"))
    assert "root>" not in trail


async def test_outer_middleware_sees_unmatched_events_and_can_enrich() -> None:
    bot, seen = make_bot(), []

    @bot.outer_middleware
    async def tag(ctx: Context, call_next: Any) -> Any:
        ctx.data["tag"] = "enriched"
        seen.append(ctx.event.event_type)
        return await call_next(ctx)

    @bot.on_message(text="x")
    async def handler(ctx: Context) -> None:
        seen.append(ctx.data["tag"])

    await bot.process(message_event("no match"))
    await bot.process(message_event("x"))
    assert seen == ["message.received", "message.received", "enriched"]


async def test_errors_reach_the_most_specific_registered_error_handler() -> None:
    bot, seen = make_bot(), []

    @bot.on_message(text="value")
    async def bad_value(ctx: Context) -> None:
        raise ValueError("boom")

    @bot.on_message(text="key")
    async def bad_key(ctx: Context) -> None:
        raise KeyError("boom")

    @bot.on_error(ValueError)
    async def on_value(ctx: Context, error: Exception) -> None:
        seen.append(("value", str(error), ctx.text))

    await bot.process(message_event("value"))
    assert seen == [("value", "boom", "value")]
    await bot.process(message_event("key"))  # no handler: logged, never raised
    assert len(seen) == 1


async def test_unhandled_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    bot = make_bot()

    @bot.on_message()
    async def broken(ctx: Context) -> None:
        raise RuntimeError("handler exploded")

    await bot.process(message_event("x"))
    assert "unhandled RuntimeError" in caplog.text


async def test_per_chat_order_kept_and_chats_run_concurrently() -> None:
    bot = Bot(env_file=None, max_concurrency=8)
    order: dict[str, list[int]] = {}
    running, peak = 0, 0
    gates = {f"chat-{n}": asyncio.Event() for n in range(4)}
    four_running = asyncio.Event()

    @bot.on_message()
    async def handler(ctx: Context) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 4:
            four_running.set()
        chat = ctx.chat_id or ""
        await gates[chat].wait()
        order.setdefault(chat, []).append(int(ctx.text))
        running -= 1

    for index in range(40):
        chat = f"chat-{index % 4}"
        payload = with_event_id(load_fixture("message.received"), chat_id=chat)
        payload["data"]["parts"] = [{"type": "text", "value": str(index)}]
        payload["data"]["sender_handle"]["handle"] = f"+1555010{index:04d}"  # many people, no flood control
        assert await bot.ingest(parse_event(json.dumps(payload).encode())) == "accepted"
    await asyncio.wait_for(four_running.wait(), 5)  # one handler per chat is in flight at once
    for gate in gates.values():
        gate.set()
    assert await bot.inbox.drain(5)
    assert peak == 4, "each chat runs one at a time, the four chats at once"
    for chat, texts in order.items():
        assert texts == sorted(texts), chat
        assert len(texts) == 10


async def test_global_bound_limits_concurrency() -> None:
    bot = Bot(env_file=None, max_concurrency=2)
    running, peak = 0, 0
    release, two_running = asyncio.Event(), asyncio.Event()

    @bot.on_message()
    async def handler(ctx: Context) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 2:
            two_running.set()
        await release.wait()
        running -= 1

    for index in range(6):
        payload = with_event_id(load_fixture("message.received"), chat_id=f"chat-{index}")
        payload["data"]["sender_handle"]["handle"] = f"+1555020{index:04d}"
        await bot.ingest(parse_event(json.dumps(payload).encode()))
    await asyncio.wait_for(two_running.wait(), 5)
    await asyncio.sleep(0.05)  # gives a third handler the chance to break the bound; the assert needs no wait
    release.set()
    assert await bot.inbox.drain(5)
    assert peak == 2


async def test_on_reaction_ignores_the_bots_own_tapbacks() -> None:
    bot, seen = make_bot(), []

    @bot.on_reaction(reaction="love")
    async def loved(ctx: Context) -> None:
        seen.append(("people", ctx.sender))

    @bot.on_reaction(include_own=True)
    async def anything(ctx: Context) -> None:
        seen.append(("own", ctx.sender))

    for from_me in (False, True):
        payload = with_event_id(load_fixture("reaction.added"))
        payload["data"]["is_from_me"] = from_me
        payload["data"]["reaction_type"] = "love"
        await bot.process(parse_event(json.dumps(payload).encode()))
    assert [who for who, _ in seen] == ["people", "own"]
