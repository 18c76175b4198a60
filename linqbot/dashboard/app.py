"""The dashboard's routes, mounted on the admin app: the page, ``GET api/state`` (a JSON snapshot) and
``GET api/events`` (a WebSocket: a ``hello`` snapshot, then one ``event`` message per handled event)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from linqbot.dashboard.feed import EventFeed
from linqbot.dashboard.snapshot import snapshot

if TYPE_CHECKING:
    from linqbot.bot import Bot

STATIC = Path(__file__).with_name("static")
FEED_MIDDLEWARE = "dashboard_feed"


def feed_of(bot: Bot) -> EventFeed:
    """The bot's event feed, installed as outer middleware (outermost, so it sees events the safeguards drop)."""
    existing = getattr(bot, "_dashboard_feed", None)
    if isinstance(existing, EventFeed):
        return existing
    feed = EventFeed()
    bot.outer_middleware.add(feed.record, name=FEED_MIDDLEWARE, first=True)
    bot._dashboard_feed = feed  # type: ignore[attr-defined]
    return feed


def add_dashboard(app: web.Application, bot: Bot) -> None:
    """Serve the dashboard at ``/`` of ``app`` (the admin app, which guards it with the admin token)."""
    feed = feed_of(bot)
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def state(_: web.Request) -> web.Response:
        return web.json_response(await snapshot(bot, feed))

    async def events(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        sockets.add(socket)
        queue = feed.listen()
        try:
            await socket.send_json({"kind": "hello", "state": await snapshot(bot, feed)})
            closed = asyncio.ensure_future(socket.receive())  # the page never writes: this ends on close
            while not socket.closed:
                next_event = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({closed, next_event}, return_when=asyncio.FIRST_COMPLETED)
                if next_event not in done:
                    next_event.cancel()
                    break
                await socket.send_json({"kind": "event", "event": next_event.result()})
            closed.cancel()
        finally:
            feed.forget(queue)
        return socket

    async def close_sockets(_: web.Application) -> None:
        for socket in list(sockets):
            with contextlib.suppress(Exception):
                await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    app.on_shutdown.append(close_sockets)
    app.router.add_get("/", index)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/events", events)
    app.router.add_static("/static/", STATIC)
