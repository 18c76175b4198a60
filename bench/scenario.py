"""The dispatch scenario, built identically in linqbot and in aiogram 3.

One inbound text message ("Where is my order #4521?") meets 20 message handlers whose filters reject it, except the
last one (a regex plus a sender check), and 3 middlewares (1 outer, 2 inner). The filters are a realistic mix: exact
text, contains, startswith, regex, sender, group/private chat, media, sync and async predicates. Handlers do no I/O;
they count, so the harness can prove each framework routed every event to the right handler.

aiogram is built twice: its best configuration (async filter callables, so no filter hops to a thread; FSM off) and
its common one (magic ``F`` filters, which aiogram runs through ``asyncio.to_thread``; default Dispatcher).
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from aiogram import Bot as AiogramBot
from aiogram import Dispatcher as AiogramDispatcher
from aiogram import F
from aiogram import Router as AiogramRouter
from aiogram.types import Message as TgMessage
from aiogram.types import TelegramObject, Update
from linqbot_state import MemoryStore as StateMemoryStore

from linqbot import Bot
from linqbot.dispatch import Context, Dispatcher, Router
from linqbot.events import Event, parse_event

TEXT = "Where is my order #4521?"
ORDER_NUMBER = "4521"
SENDER_PHONE = "+15555550123"
SENDER_USER_ID = 123
HANDLER_COUNT = 20
FIRST_SENT_AT = datetime.datetime(2026, 5, 14, 16, 2, 10, 917000, tzinfo=datetime.UTC)


@dataclass
class Counters:
    """What the handlers and middlewares of one framework saw."""

    outer: int = 0
    inner: int = 0
    handled: int = 0
    """Events that reached the last handler with the right regex match."""
    misrouted: int = 0
    """Events that reached any other handler (or the last one without its match): must stay 0."""
    api_calls: int = 0
    """Linq API calls attempted (the default-Bot configuration counts them): must stay 0."""


@dataclass
class Runner:
    """One framework configuration: how it parses a body and dispatches the result."""

    name: str
    parse: Callable[[bytes], Any]
    dispatch: Callable[[Any], Awaitable[Any]]
    payloads: list[bytes]
    counters: Counters = field(default_factory=Counters)
    fresh_payloads: Callable[[int], list[bytes]] | None = None
    """For a configuration that remembers past events (a default Bot's flood control counts messages by their
    ``sent_at``): the payloads of round N, later than those of round N-1. None: every round replays ``payloads``."""


# -- payloads ------------------------------------------------------------------------------------------------------


def linq_payloads(count: int, first: int = 0) -> list[bytes]:
    """Distinct ``message.received`` webhook bodies in the 2026-02-03 shape Linq delivers, numbered from ``first``
    and written a second apart (a person typing, not a flood: a default Bot's flood control holds a burst)."""
    return [json.dumps(_linq_body(n)).encode() for n in range(first, first + count)]


def _linq_body(n: int) -> dict[str, Any]:
    handle = {"handle": SENDER_PHONE, "service": "iMessage", "is_me": False, "status": "active"}
    line = {"handle": "+15555550100", "service": "iMessage", "is_me": True, "status": "active"}
    return {
        "api_version": "v3",
        "webhook_version": "2026-02-03",
        "event_type": "message.received",
        "event_id": f"evt-{n:08d}",
        "created_at": "2026-05-14T16:02:11.482Z",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "partner_id": "8c1e2a7d-3f4b-4c6a-9e2d-5b7f1a9c0d34",
        "data": {
            "id": f"msg-{n:08d}",
            "chat": {
                "id": "3f6c2a9e-8b1d-4e57-a0c4-91d2e7b5f812",
                "is_group": False,
                "health_status": {"status": "HEALTHY", "updated_at": "2026-05-14T15:58:40.000Z"},
                "owner_handle": {**line, "id": "0d3b7f2a", "joined_at": "2026-05-14T15:58:40.000Z"},
            },
            "direction": "inbound",
            "parts": [{"type": "text", "value": TEXT, "text_decorations": None, "mentions": None}],
            "sender_handle": {**handle, "id": "9e2c4a7b", "joined_at": "2026-05-14T15:58:40.000Z"},
            "service": "iMessage",
            "sent_at": (FIRST_SENT_AT + datetime.timedelta(seconds=n)).isoformat(timespec="milliseconds"),
            "delivered_at": None,
            "read_at": None,
            "effect": None,
            "reply_to": None,
        },
    }


def telegram_payloads(count: int) -> list[bytes]:
    """Distinct Telegram ``Update`` bodies carrying the same private text message."""
    user = {"id": SENDER_USER_ID, "is_bot": False, "first_name": "Ann", "username": "ann", "language_code": "en"}
    chat = {"id": SENDER_USER_ID, "type": "private", "first_name": "Ann", "username": "ann"}
    return [
        json.dumps(
            {
                "update_id": 10_000 + n,
                "message": {"message_id": n + 1, "date": 1778774531, "chat": chat, "from": user, "text": TEXT},
            }
        ).encode()
        for n in range(count)
    ]


# -- linqbot ---------------------------------------------------------------------------------------------------------


def linqbot_runner(count: int) -> Runner:
    """linqbot's core: a root `Router` fed by a `Dispatcher`, the way ``bot.process`` feeds it.

    The handlers live on a router of their own, so the figure leaves out the built-in safeguards and the plugins a
    `Bot` installs (just as aiogram's best configuration leaves out its FSM).
    """
    without_plugins = [f"-{ep.name}" for ep in entry_points(group="linqbot")]
    bot = Bot(plugins=without_plugins or None, env_file=None)
    root = Router("bench")
    dispatcher = Dispatcher(root)

    def dispatch(event: Event) -> Awaitable[Any]:
        return dispatcher.feed(Context(bot, event))

    runner = Runner("linqbot", parse_event, dispatch, linq_payloads(count))
    register_handlers(root, runner.counters)
    return runner


def default_bot_runner(count: int) -> Runner:
    """What a real bot pays: the same handlers on a default ``Bot()`` (every built-in safeguard and first-party
    plugin installed), dispatched by ``bot.process``. The handlers send nothing, so no safeguard reaches the API; an
    outbound middleware counts any call that would, and the harness checks the count stays 0."""
    bot = Bot(
        env_file=None,
        api_key="bench",
        base_url="http://127.0.0.1:9/api/partner",
        webhook_secret="whsec_YmVuY2g=",
    )
    bot.state_store = StateMemoryStore()  # type: ignore[attr-defined]  # the state plugin's store, without a file
    runner = Runner(
        "linqbot, default Bot()",
        parse_event,
        bot.process,
        linq_payloads(count),
        fresh_payloads=lambda round_index: linq_payloads(count, first=round_index * count),
    )
    seen = runner.counters

    async def count_api_calls(call: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        seen.api_calls += 1
        return await call_next(call)

    bot.outbound_middleware.add(count_api_calls, first=True)
    register_handlers(bot, seen)
    return runner


def register_handlers(root: Router, seen: Counters) -> None:
    """The scenario's 20 handlers and 3 middlewares, counting into ``seen``."""

    async def outer(ctx: Context, call_next: Callable[[Context], Awaitable[Any]]) -> Any:
        seen.outer += 1
        return await call_next(ctx)

    async def tag_request(ctx: Context, call_next: Callable[[Context], Awaitable[Any]]) -> Any:
        seen.inner += 1
        ctx.data["request"] = ctx.event.event_id
        return await call_next(ctx)

    async def tag_user(ctx: Context, call_next: Callable[[Context], Awaitable[Any]]) -> Any:
        seen.inner += 1
        ctx.data["user"] = ctx.sender
        return await call_next(ctx)

    async def is_admin(ctx: Context) -> bool:
        return ctx.sender == "+15555550001"

    async def miss(ctx: Context) -> None:
        seen.misrouted += 1

    async def order_status(ctx: Context) -> None:
        if ctx.match is not None and ctx.match.group(1) == ORDER_NUMBER and ctx.data["user"] == SENDER_PHONE:
            seen.handled += 1
        else:
            seen.misrouted += 1

    root.outer_middleware(outer)
    root.middleware(tag_request)
    root.middleware(tag_user)
    on = root.on_message
    on(text="start")(miss)
    on(text=["help", "menu"])(miss)
    on(startswith="/")(miss)
    on(contains="unsubscribe")(miss)
    on(regex=r"^stop\b")(miss)
    on(sender="+15555550999")(miss)
    on(group=True)(miss)
    on(has_media=True)(miss)
    on(lambda ctx: ctx.text.isdigit())(miss)
    on(contains=["refund", "cancel"])(miss)
    on(startswith=["hey bot", "ok bot"])(miss)
    on(regex=r"\bweather in (\w+)")(miss)
    on(text="ping")(miss)
    on(sender=["+15555550998", "+15555550997"], contains="vip")(miss)
    on(is_admin)(miss)
    on(startswith="track")(miss)
    on(contains="price")(miss)
    on(regex=r"(?i)^book (\w+)")(miss)
    on(text="thanks", group=False)(miss)
    on(regex=r"order #(\d+)", sender=SENDER_PHONE)(order_status)


# -- aiogram ---------------------------------------------------------------------------------------------------------

AsyncFilter = Callable[[TgMessage], Awaitable[Any]]


def _text_in(*values: str) -> AsyncFilter:
    wanted = frozenset(v.casefold() for v in values)

    async def check(message: TgMessage) -> bool:
        return (message.text or "").strip().casefold() in wanted

    return check


def _contains(*needles: str) -> AsyncFilter:
    async def check(message: TgMessage) -> bool:
        text = (message.text or "").casefold()
        return any(n in text for n in needles)

    return check


def _startswith(*prefixes: str) -> AsyncFilter:
    async def check(message: TgMessage) -> bool:
        return (message.text or "").lstrip().casefold().startswith(prefixes)

    return check


def _regex(pattern: str) -> AsyncFilter:
    compiled = re.compile(pattern)

    async def check(message: TgMessage) -> bool | dict[str, Any]:
        found = compiled.search(message.text or "")
        return {"match": found} if found is not None else False

    return check


def _from_user(*ids: int) -> AsyncFilter:
    wanted = frozenset(ids)

    async def check(message: TgMessage) -> bool:
        return message.from_user is not None and message.from_user.id in wanted

    return check


def _in_group(wanted: bool) -> AsyncFilter:
    async def check(message: TgMessage) -> bool:
        return (message.chat.type in ("group", "supergroup")) is wanted

    return check


async def _has_photo(message: TgMessage) -> bool:
    return message.photo is not None


async def _is_digits(message: TgMessage) -> bool:
    return (message.text or "").isdigit()


async def _is_admin(message: TgMessage) -> bool:
    return message.from_user is not None and message.from_user.id == 1


def aiogram_best_runner(count: int) -> Runner:
    """aiogram with async filter callables (awaited inline) and FSM disabled: its fastest set-up."""
    router = AiogramRouter()
    filters: list[tuple[AsyncFilter, ...]] = [
        (_text_in("start"),),
        (_text_in("help", "menu"),),
        (_startswith("/"),),
        (_contains("unsubscribe"),),
        (_regex(r"^stop\b"),),
        (_from_user(999),),
        (_in_group(True),),
        (_has_photo,),
        (_is_digits,),
        (_contains("refund", "cancel"),),
        (_startswith("hey bot", "ok bot"),),
        (_regex(r"\bweather in (\w+)"),),
        (_text_in("ping"),),
        (_from_user(998, 997), _contains("vip")),
        (_is_admin,),
        (_startswith("track"),),
        (_contains("price"),),
        (_regex(r"(?i)^book (\w+)"),),
        (_text_in("thanks"), _in_group(False)),
    ]
    last = (_regex(r"order #(\d+)"), _from_user(SENDER_USER_ID))
    return _aiogram_runner("aiogram (best: async filters)", count, router, filters, last, disable_fsm=True)


def aiogram_common_runner(count: int) -> Runner:
    """aiogram as its docs teach it: magic ``F`` filters and a default Dispatcher.

    ``regexp`` gets ``mode="search"`` because magic-filter anchors patterns (``re.match``) by default.
    """
    router = AiogramRouter()
    text = F.text.lower()
    filters: list[tuple[Any, ...]] = [
        (text == "start",),
        (text.in_({"help", "menu"}),),
        (F.text.startswith("/"),),
        (text.contains("unsubscribe"),),
        (F.text.regexp(r"^stop\b", mode="search"),),
        (F.from_user.id == 999,),
        (F.chat.type.in_({"group", "supergroup"}),),
        (F.photo,),
        (F.text.isdigit(),),
        (text.contains("refund") | text.contains("cancel"),),
        (text.startswith(("hey bot", "ok bot")),),
        (F.text.regexp(r"\bweather in (\w+)", mode="search"),),
        (text == "ping",),
        (F.from_user.id.in_({998, 997}), text.contains("vip")),
        (_is_admin,),
        (text.startswith("track"),),
        (text.contains("price"),),
        (F.text.regexp(r"(?i)^book (\w+)", mode="search"),),
        (text == "thanks", F.chat.type == "private"),
    ]
    last = (F.text.regexp(r"order #(\d+)", mode="search").as_("match"), F.from_user.id == SENDER_USER_ID)
    return _aiogram_runner("aiogram (common: magic F filters)", count, router, filters, last)


def _aiogram_runner(
    name: str,
    count: int,
    router: AiogramRouter,
    filters: list[tuple[Any, ...]],
    last: tuple[Any, ...],
    *,
    disable_fsm: bool = False,
) -> Runner:
    assert len(filters) == HANDLER_COUNT - 1
    bot = AiogramBot(token="42:BENCHMARK-TOKEN")
    dispatcher = AiogramDispatcher(disable_fsm=disable_fsm)
    dispatcher.include_router(router)
    runner = Runner(
        name,
        functools.partial(Update.model_validate_json, context={"bot": bot}),
        functools.partial(dispatcher.feed_update, bot),
        telegram_payloads(count),
    )
    seen = runner.counters

    async def outer(handler: Callable[..., Awaitable[Any]], event: Any, data: dict[str, Any]) -> Any:
        seen.outer += 1
        return await handler(event, data)

    async def tag_request(handler: Callable[..., Awaitable[Any]], event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, TgMessage)
        seen.inner += 1
        data["request"] = event.message_id
        return await handler(event, data)

    async def tag_user(handler: Callable[..., Awaitable[Any]], event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, TgMessage)
        seen.inner += 1
        data["user"] = event.from_user.id if event.from_user is not None else None
        return await handler(event, data)

    async def miss(message: TgMessage) -> None:
        seen.misrouted += 1

    async def order_status(message: TgMessage, match: re.Match[str], user: int) -> None:
        if match.group(1) == ORDER_NUMBER and user == SENDER_USER_ID:
            seen.handled += 1
        else:
            seen.misrouted += 1

    dispatcher.update.outer_middleware(outer)
    router.message.middleware(tag_request)
    router.message.middleware(tag_user)
    for checks in filters:
        router.message(*checks)(miss)
    router.message(*last)(order_status)
    return runner


def runners(count: int) -> list[Runner]:
    """The four configurations, each with ``count`` distinct pre-encoded events."""
    return [linqbot_runner(count), default_bot_runner(count), aiogram_best_runner(count), aiogram_common_runner(count)]
