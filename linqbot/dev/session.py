"""One dev session: the emulator with the phone page mounted on it, and the bot wired to the emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from linqbot.bot import Bot
from linqbot.emulator import Emulator
from linqbot.testing import Simulation, simulate

PHONE_DIR = Path(__file__).with_name("phone")
DEFAULT_PEOPLE = ("+15550100001", "+15550100002", "+15550100003")
"""The simulated people the page starts with (more can be added on the page)."""


def mount_phone(emulator: Emulator, people: Sequence[str]) -> None:
    """Serve the phone page at ``/`` of the emulator app, so the page reaches the admin API on the same origin."""

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(PHONE_DIR / "index.html")

    async def session(_: web.Request) -> web.Response:
        return web.json_response({"line": emulator.line, "people": list(people)})

    app = emulator.app
    app.router.add_get("/", index)
    app.router.add_get("/phone/session", session)
    app.router.add_static("/phone/", PHONE_DIR)


def phone_url(sim: Simulation) -> str:
    return f"{sim.emulator.url}/"


@contextlib.asynccontextmanager
async def dev_session(
    bot: Bot,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    bot_port: int = 0,
    people: Sequence[str] = DEFAULT_PEOPLE,
    **emulator_options: Any,
) -> AsyncIterator[Simulation]:
    """Start the emulator (with the phone page) on ``host:port`` and the bot on ``host:bot_port``, wired together."""
    emulator = Emulator(**emulator_options)
    mount_phone(emulator, people)
    await emulator.start(host, port)
    try:
        async with simulate(bot, emulator=emulator, host=host, bot_port=bot_port) as sim:
            yield sim
    finally:
        await emulator.stop()
