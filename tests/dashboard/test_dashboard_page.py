"""The dashboard in a real headless Chromium, fed by a real bot talking to the emulator over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from linqbot import Bot, Context
from linqbot.admin import AdminServer
from linqbot.middleware import Safeguards
from linqbot.testing import Simulation
from tests.browser import SCREENSHOTS, WAIT_MS, needs_chromium
from tests.observability.helpers import served

TOKEN = "dashboard-test-token"
PERSON = "+15550100002"

pytestmark = needs_chromium


def echo_bot() -> Bot:
    bot = Bot(env_file=None, safeguards=Safeguards(flood=None))

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(f"echo: {ctx.text}")

    return bot


@pytest.fixture
async def running() -> AsyncIterator[tuple[Simulation, AdminServer]]:
    async with served(echo_bot(), token=TOKEN) as pair:
        yield pair


@pytest.fixture
async def page(running: tuple[Simulation, AdminServer], browser: Browser) -> AsyncIterator[Page]:
    _, admin = running
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(f"{admin.url}/?token={TOKEN}")
    await expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    yield page


async def test_a_new_chat_and_its_events_appear_live(running: tuple[Simulation, AdminServer], page: Page) -> None:
    sim, _ = running
    await page.evaluate("window.sameDocument = true")
    await expect(page.locator("#chats-empty")).to_be_visible()

    user = sim.user(PERSON)
    await user.send("hello")
    await user.expect_reply()

    chat_row = page.locator(f'#chats tr[data-chat-id="{user.last_chat_id}"]')
    await expect(chat_row).to_contain_text("+1***02", timeout=WAIT_MS)
    await expect(chat_row).to_contain_text("HEALTHY")
    await expect(chat_row.locator(".bar-label")).to_have_text("1 / 30", timeout=WAIT_MS)  # the reply used its pair
    received = page.locator("#events tbody tr", has_text="message.received")
    await expect(received).to_have_count(1, timeout=WAIT_MS)
    await expect(received).to_contain_text("handled")
    await expect(page.locator("#chats-empty")).to_be_hidden()

    await user.send("again")
    await user.expect_reply()
    await expect(received).to_have_count(2, timeout=WAIT_MS)
    await expect(chat_row.locator(".bar-label")).to_have_text("2 / 30", timeout=WAIT_MS)
    assert await page.evaluate("window.sameDocument") is True, "the stream updated the page without a reload"
    assert int(await page.locator("#rate-chart").get_attribute("data-total") or 0) >= 2
    assert PERSON not in await page.content(), "handles are masked on the page"

    await page.screenshot(path=str(SCREENSHOTS / "linqbot-dashboard.png"), full_page=True)


async def test_the_page_and_its_api_need_the_token(running: tuple[Simulation, AdminServer]) -> None:
    _, admin = running
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{admin.url}/") as response:
            assert response.status == 401
        async with http.ws_connect(f"{admin.url}/api/events?token={TOKEN}") as socket:
            hello = await socket.receive_json(timeout=5)
    assert hello["kind"] == "hello" and hello["state"]["chats"] == []
