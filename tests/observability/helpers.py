"""A bot served against the emulator with its admin server, and a scraper that parses ``/metrics``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from linqbot import Bot
from linqbot.admin import AdminServer, start_admin
from linqbot.testing import Simulation, simulate


@contextlib.asynccontextmanager
async def served(
    bot: Bot, *, token: str | None = None, **emulator_options: Any
) -> AsyncIterator[tuple[Simulation, AdminServer]]:
    async with simulate(bot, **emulator_options) as sim:
        admin = await start_admin(bot, token=token)
        try:
            yield sim, admin
        finally:
            await admin.close()


async def scrape(admin: AdminServer, token: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics``, by name and sorted labels, parsed with prometheus_client's own parser."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(f"{admin.url}/metrics", headers=headers) as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
