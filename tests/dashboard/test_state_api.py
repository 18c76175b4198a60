"""``GET api/state``: what the dashboard draws — opt-out state, scheduled jobs and campaign progress."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from linqbot_outreach.recipients import Recipient
from linqbot_outreach.store import CampaignStore
from linqbot_scheduler import scheduler_of

from linqbot import Bot, Context
from linqbot.admin import AdminServer
from tests.observability.helpers import served

PERSON = "+15550100002"


async def nightly_digest() -> None:
    """A scheduled job for the dashboard to list."""


async def state(admin: AdminServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{admin.url}/api/state") as response:
        assert response.status == 200
        found: dict[str, Any] = await response.json()
        return found


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINQBOT_SCHEDULER_URL", f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    monkeypatch.setenv("LINQBOT_OUTREACH_DB", str(tmp_path / "outreach.sqlite3"))
    return tmp_path


def seed_campaign(path: Path) -> None:
    store = CampaignStore(path)
    try:
        people = [Recipient(f"+1555010010{n}") for n in range(4)]
        store.enrol("spring-sale", "Hi!", people, time.time())
        store.mark("spring-sale", "+15550100100", "sent", time.time())
        store.mark("spring-sale", "+15550100101", "skipped", time.time(), reason="opted out")
    finally:
        store.close()


async def test_state_lists_opt_outs_jobs_and_campaign_progress(stores: Path) -> None:
    bot = Bot(env_file=None)
    scheduler_of(bot).every(hours=1, id="digest", name="nightly digest")(nightly_digest)

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply("ok")

    seed_campaign(stores / "outreach.sqlite3")
    async with served(bot) as (sim, admin):
        user = sim.user(PERSON)
        await user.send("hi")
        await user.expect_reply()
        await user.send("STOP")
        await sim.idle()
        found = await state(admin)

    [chat] = found["chats"]
    assert chat["who"] == "+1***02" and chat["opted_out"] is True and chat["health"] == "OPTED_OUT"
    [job] = found["jobs"]
    assert job["id"] == "digest" and job["name"] == "nightly digest" and job["next_run"]
    [campaign] = found["campaigns"]
    assert campaign["id"] == "spring-sale" and not campaign["finished"]
    assert campaign["counts"] == {"pending": 2, "sending": 0, "sent": 1, "skipped": 1, "failed": 0}
    assert [e["type"] for e in found["events"]].count("message.received") == 2
    assert PERSON not in str(found)
