"""The admin app and server.

Metrics and the dashboard reveal who talks to the bot and how it is doing, so they never share the webhook port
(which must face the internet): they get a port of their own, on loopback by default. With ``LINQBOT_ADMIN_TOKEN``
set every request needs it (``Authorization: Bearer …``; a browser opens ``/?token=…`` once and then
holds it in an HttpOnly, SameSite=Strict cookie); serving on any other
interface without a token is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from linqbot.config import ConfigError
from linqbot.dashboard import add_dashboard
from linqbot.observability.instrument import instrument

if TYPE_CHECKING:
    from linqbot.bot import Bot

log = logging.getLogger("linqbot.admin")

ADMIN_TOKEN_SETTING = "LINQBOT_ADMIN_TOKEN"
COOKIE = "linqbot_admin"


def _token_guard(token: str) -> Middleware:
    expected = token.encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        from_query = request.query.get("token")
        offered = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else from_query
        offered = offered or request.cookies.get(COOKIE)
        if offered is None or not hmac.compare_digest(offered.encode(), expected):
            return web.json_response(
                {"error": "unauthorized", "reason": f"send the {ADMIN_TOKEN_SETTING} as a Bearer token"}, status=401
            )
        response = await handler(request)
        if from_query and not response.prepared:  # the page's scripts and stream then authenticate by cookie
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return require_token


def build_admin_app(bot: Bot, *, token: str | None = None) -> web.Application:
    """``GET /metrics`` (Prometheus) and the dashboard at ``/``; turns the bot's metrics on."""
    instrument(bot)
    app = web.Application(middlewares=[_token_guard(token)] if token else [])

    async def metrics(_: web.Request) -> web.Response:
        body, content_type = bot.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", metrics)
    add_dashboard(app, bot)
    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class AdminServer:
    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_admin(bot: Bot, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> AdminServer:
    """Serve the admin app on ``host:port`` (``port=0``: any free port); the token defaults to the setting."""
    token = token or bot.config.extra.get(ADMIN_TOKEN_SETTING) or None
    if token is None and not _is_loopback(host):
        raise ConfigError(
            f"{ADMIN_TOKEN_SETTING} is required to serve metrics and the dashboard on {host}: "
            "set it, or keep the admin port on 127.0.0.1"
        )
    runner = web.AppRunner(build_admin_app(bot, token=token), shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound}"
    log.info("admin server (metrics, dashboard) at %s%s", url, " (token required)" if token else "")
    return AdminServer(runner, url)


ADMIN_SERVER: web.AppKey[AdminServer] = web.AppKey("linqbot.admin.server", AdminServer)


def serve_alongside(bot: Bot, port: int, host: str | None = None) -> None:
    """Start the admin server when the bot's webhook app starts, and stop it with the app (``linqbot run
    --admin-port``). ``host`` defaults to ``LINQBOT_ADMIN_HOST``, else 127.0.0.1."""

    async def start(app: web.Application) -> None:
        chosen = host or bot.config.extra.get("LINQBOT_ADMIN_HOST") or "127.0.0.1"
        app[ADMIN_SERVER] = await start_admin(bot, host=chosen, port=port)

    async def stop(app: web.Application) -> None:
        if ADMIN_SERVER in app:
            await app[ADMIN_SERVER].close()

    bot.app.on_startup.append(start)
    bot.app.on_cleanup.append(stop)
