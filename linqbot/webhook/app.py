"""The HTTP edge: ``POST /webhook`` verifies, parses and hands events to the inbox, answering within milliseconds.

Answers: 200 accepted (also for duplicates and event types nobody handles), 401 bad signature, 400 a well-signed
body that is not an event, 413 too large (refused before it is read in full), 503 while shutting down or while the
inbox store is unreachable, so Linq retries the delivery later. Error bodies are JSON
``{"error": code, "reason": text}`` with no secret material.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy

from linqbot.events import InvalidPayload, parse_event
from linqbot.inbox import InboxUnavailable
from linqbot.webhook.signature import SignatureError

if TYPE_CHECKING:
    from linqbot.bot import Bot

log = logging.getLogger("linqbot.webhook")

BOT_KEY: web.AppKey[Bot] = web.AppKey("linqbot.bot")


def _error(status: int, code: str, reason: str) -> web.Response:
    return web.json_response({"error": code, "reason": reason}, status=status)


_JSON_HEADERS = CIMultiDictProxy(CIMultiDict({hdrs.CONTENT_TYPE: "application/json"}))
"""Passed as is to every 200: ``content_type=`` re-parses the media type per response."""


@functools.cache
def _accepted_body(status: str) -> bytes:
    """The 200 answer for each ingest status, encoded once: JSON-encoding it per request cost as much as the
    signature check."""
    return json.dumps({"ok": True, "status": status}).encode()


async def _read_chunked(request: web.Request, limit: int) -> bytes | None:
    """A body sent without Content-Length, or None as soon as it grows past ``limit`` (the rest is never buffered)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _Routes:
    """One bot's handlers, bound to it once: looking it up as ``request.app[BOT_KEY]`` cost three calls a webhook."""

    __slots__ = ("bot",)

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def receive_webhook(self, request: web.Request) -> web.Response:
        bot = self.bot
        if bot.closing:
            return _error(503, "shutting_down", "the bot is restarting; retry later")
        limit = bot.body_limit
        declared = request.content_length  # aiohttp parses the header again on every access: read it once
        if declared is None:
            body = await _read_chunked(request, limit)
        elif declared <= limit:
            body = await request.content.readexactly(declared) if declared else b""  # one read, no chunk loop
        else:
            body = None
        if body is None:
            return _error(413, "too_large", f"body exceeds {limit} bytes")
        try:
            bot.verifier.verify(request.headers, body)
        except SignatureError as exc:
            log.warning(
                "rejected webhook from %s: %s%s", request.remote, exc.reason, f" ({exc.hint})" if exc.hint else ""
            )
            return _error(401, "invalid_signature", exc.reason)
        try:
            event = parse_event(body)
        except InvalidPayload as exc:
            log.warning("rejected signed webhook that is not a Linq event: %s", exc)
            return _error(400, "invalid_payload", str(exc))
        try:
            status = await bot.ingest(event)
        except InboxUnavailable as exc:
            log.warning("could not store event %s, Linq will redeliver it: %s", event.event_id, exc)
            return _error(503, "inbox_unavailable", "the bot cannot store events right now; retry later")
        bot.metrics.webhook(event.event_type, status)
        return web.Response(body=_accepted_body(status), headers=_JSON_HEADERS)

    async def healthz(self, _: web.Request) -> web.Response:
        bot = self.bot
        status = 503 if bot.closing else 200
        return web.json_response({"ok": status == 200, "pending": bot.inbox.pending}, status=status)


_INTERPRETER_GC_THRESHOLDS = (700, 10, 10)
"""CPython's untouched default before 3.13; 3.13 raised the youngest generation's threshold to 2000 itself."""
_YOUNG_GC_THRESHOLD = 2000


async def _young_gc_threshold_of_313(_: web.Application) -> AsyncIterator[None]:
    """While serving on 3.11/3.12, raise the youngest generation's threshold to 3.13's 2000, unless someone set their
    own; the interpreter's default comes back when the app stops.

    A burst of webhooks keeps every parsed event alive until its handlers ran; at 700 that set off a young collection
    every few requests, 3.6 % of an ingest's instructions with the memory inbox (none left at 2000).
    """
    raised = (_YOUNG_GC_THRESHOLD, *_INTERPRETER_GC_THRESHOLDS[1:])
    ours = gc.get_threshold() == _INTERPRETER_GC_THRESHOLDS
    if ours:
        gc.set_threshold(*raised)
    yield
    if ours and gc.get_threshold() == raised:
        gc.set_threshold(*_INTERPRETER_GC_THRESHOLDS)


def build_app(bot: Bot, path: str = "/webhook") -> web.Application:
    """An aiohttp application with the webhook and health routes; mount or extend it like any aiohttp app."""
    app = web.Application()
    app[BOT_KEY] = bot
    routes = _Routes(bot)
    app.router.add_post(path, routes.receive_webhook)
    app.router.add_get("/healthz", routes.healthz)
    app.cleanup_ctx.append(_young_gc_threshold_of_313)
    return app
