"""linqbot-hello: a sample community plugin. It adds a ``hello`` command and a middleware counting messages per person.

Installed, it loads by itself (entry point ``hello`` in group ``linqbot``); ``LINQBOT_PLUGINS=-hello`` turns it off.
Hooks build fresh objects for each bot: a router can be included in one bot only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from linqbot import Bot, Context, Router
from linqbot.dispatch.middleware import Middleware, Next
from linqbot.plugins import hookimpl

SEEN_KEY = "hello.messages_from_sender"


async def hello(ctx: Context, name: str | None = None) -> None:
    """Say hello (to a name, if you give one)."""
    count = ctx.data.get(SEEN_KEY, 1)
    await ctx.reply(f"Hello, {name or 'there'}! (message {count} from you)")


def message_counter() -> Middleware[Context]:
    """Inner middleware counting each person's handled messages, for handlers to read from ``ctx.data``."""
    seen: Counter[str] = Counter()

    async def count_messages(ctx: Context, call_next: Next[Context]) -> Any:
        if ctx.message is not None and ctx.sender is not None:
            seen[ctx.sender] += 1
            ctx.data[SEEN_KEY] = seen[ctx.sender]
        return await call_next(ctx)

    return count_messages


@hookimpl
def linqbot_routers(bot: Bot) -> Router:
    router = Router("hello")
    router.command("hello", aliases=["hi"])(hello)
    return router


@hookimpl
def linqbot_middleware(bot: Bot) -> list[Any]:
    return [message_counter()]
