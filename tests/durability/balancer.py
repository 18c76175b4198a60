"""A load balancer for the scale-out tests: each webhook delivery goes to a random backend, no stickiness (or, for a
test that needs to know which process accepted what, to one ``pinned`` backend)."""

from __future__ import annotations

import random
from collections import Counter

import aiohttp
from aiohttp import web

from tests.durability.conftest import BotProcess, free_port


class RandomBalancer:
    """Forwards each delivery to a random live backend, like a load balancer without stickiness."""

    def __init__(self, backends: list[BotProcess], rng: random.Random) -> None:
        self.backends = backends
        self.rng = rng
        self.port = free_port()
        self.forwarded: Counter[int] = Counter()
        self.pinned: BotProcess | None = None
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        backend = self.pinned or self.rng.choice(self.backends)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        assert self._session is not None
        try:
            async with self._session.post(f"{backend.url}/webhook", data=body, headers=headers) as response:
                self.forwarded[backend.port] += 1
                return web.Response(status=response.status, body=await response.read())
        except aiohttp.ClientError:
            return web.Response(status=502)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def __aenter__(self) -> RandomBalancer:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/webhook", self.forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
        assert self._session is not None
        await self._session.close()
