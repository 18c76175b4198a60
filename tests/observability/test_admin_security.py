"""Metrics and the dashboard never answer on the webhook port, and answer on the admin port only with the token."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from linqbot import Bot
from linqbot.admin import serve_alongside, start_admin
from linqbot.admin.server import ADMIN_SERVER
from linqbot.config import ConfigError
from linqbot.emulator import Emulator
from linqbot.middleware import Safeguards
from linqbot.testing import simulate
from tests.observability.helpers import scrape, served

TOKEN = "admin-token-for-tests"
SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="


async def status(url: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status


async def test_the_webhook_port_serves_neither_metrics_nor_the_dashboard() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    async with served(bot) as (sim, _):
        [sub] = sim.emulator.engine.state.subscriptions.values()
        webhook_root = sub.target_url.split("/webhook")[0]
        assert await status(f"{webhook_root}/metrics") == 404
        assert await status(f"{webhook_root}/api/state") == 404
        assert await status(f"{webhook_root}/") == 404


async def test_with_a_token_every_admin_route_requires_it() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    async with served(bot, token=TOKEN) as (_, admin):
        for path in ("/metrics", "/", "/api/state", "/static/dashboard.js"):
            assert await status(f"{admin.url}{path}") == 401
            assert await status(f"{admin.url}{path}", Authorization="Bearer wrong") == 401
        assert await status(f"{admin.url}/api/state?token={TOKEN}") == 200
        assert await scrape(admin, TOKEN)


async def test_the_token_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQBOT_ADMIN_TOKEN", TOKEN)
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    async with served(bot) as (_, admin):
        assert await status(f"{admin.url}/metrics") == 401
        assert await status(f"{admin.url}/metrics", Authorization=f"Bearer {TOKEN}") == 200


async def test_serving_beyond_loopback_without_a_token_is_refused() -> None:
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    async with simulate(bot):
        with pytest.raises(ConfigError, match="LINQBOT_ADMIN_TOKEN is required"):
            await start_admin(bot, host="0.0.0.0")


async def test_linqbot_run_admin_port_starts_and_stops_with_the_webhook_app() -> None:
    async with Emulator() as emulator:
        bot = Bot(
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            webhook_secret=SECRET,
            env_file=None,
            safeguards=Safeguards.off(),
        )
        serve_alongside(bot, port=0)
        runner = web.AppRunner(bot.app)
        await runner.setup()
        admin = bot.app[ADMIN_SERVER]
        try:
            assert await status(f"{admin.url}/metrics") == 200
            assert admin.url.startswith("http://127.0.0.1:")
        finally:
            await runner.cleanup()
        with pytest.raises(aiohttp.ClientConnectionError):
            await status(f"{admin.url}/metrics")
