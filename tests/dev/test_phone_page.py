"""The phone simulator page in a real headless Chromium, talking to a real emulator and a real bot over 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from linqbot import Bot, Context
from linqbot.dev import dev_session, phone_url
from linqbot.events import ReactionEvent
from linqbot.testing import Simulation
from tests.browser import SCREENSHOTS, WAIT_MS, needs_chromium

pytestmark = [
    pytest.mark.usefixtures("linq_env"),
    needs_chromium,
]


class PhoneBot:
    """A bot whose handler holds its typing indicator until the test releases it, so the test sees it for sure."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.person_typing = asyncio.Event()
        self.bot = Bot(env_file=None)
        bot = self.bot

        @bot.on_message(has_media=True)
        async def picture(ctx: Context) -> None:
            pictures = [media.url for media in ctx.message.media] if ctx.message else []
            await ctx.reply("Nice picture", media=pictures)

        @bot.on_message(contains="party")
        async def party(ctx: Context) -> None:
            await ctx.reply("🎉 Party time!", effect="confetti")

        @bot.on_message()
        async def answer(ctx: Context) -> None:
            await ctx.mark_read()
            await ctx.react("love")
            async with ctx.typing():
                await self.release.wait()
            await ctx.reply(f"echo: {ctx.text}")

        @bot.on_reaction(lambda ctx: isinstance(ctx.event, ReactionEvent) and not ctx.event.reaction.is_from_me)
        async def thanks(ctx: Context) -> None:
            assert isinstance(ctx.event, ReactionEvent)
            await ctx.reply(f"thanks for the {ctx.event.reaction.reaction_type}")

        @bot.on_typing()
        async def typing(ctx: Context) -> None:
            self.person_typing.set()


@pytest.fixture
async def phone_bot() -> PhoneBot:
    return PhoneBot()


@pytest.fixture
async def sim(phone_bot: PhoneBot) -> AsyncIterator[Simulation]:
    async with dev_session(phone_bot.bot) as session:
        yield session


async def open_phone(browser: Browser, sim: Simulation, person: str | None = None) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    await page.goto(phone_url(sim) + (f"?as={person}" if person else ""))
    await expect(page.locator("#status")).to_have_class("status live", timeout=WAIT_MS)
    return page


async def say(page: Page, text: str) -> None:
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")


def bot_bubble(page: Page, text: str) -> Locator:
    return page.locator(".row.from-bot .bubble", has_text=text)


async def test_a_message_gets_typing_then_the_reply_a_tapback_and_a_read_receipt(
    browser: Browser, sim: Simulation, phone_bot: PhoneBot
) -> None:
    page = await open_phone(browser, sim)
    await say(page, "hello there")

    await expect(page.locator(".row.from-me .bubble", has_text="hello there")).to_be_visible(timeout=WAIT_MS)
    typing = page.locator("#typing-indicator")
    await expect(typing).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(".row.from-me .tapback.by-bot[data-reaction='love']")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("[data-testid='receipt']")).to_have_text("Read", timeout=WAIT_MS)
    assert await page.locator(".row.from-bot").count() == 0, "the bot must not have answered while typing"

    phone_bot.release.set()
    await expect(page.locator(".row.from-bot .bubble", has_text="echo: hello there")).to_be_visible(timeout=WAIT_MS)
    await expect(typing).to_have_count(0, timeout=WAIT_MS)

    log = page.locator("#log .entry[data-event-type='message.received']")
    await expect(log.first).to_contain_text("200", timeout=WAIT_MS)
    shot = SCREENSHOTS / "linqbot-dev-phone.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


async def test_typing_in_the_composer_reaches_the_bot(browser: Browser, sim: Simulation, phone_bot: PhoneBot) -> None:
    phone_bot.release.set()
    page = await open_phone(browser, sim)
    await say(page, "first")
    await expect(page.locator(".row.from-bot .bubble", has_text="echo: first")).to_be_visible(timeout=WAIT_MS)

    await page.locator("#text").press_sequentially("typing a long thought")
    await asyncio.wait_for(phone_bot.person_typing.wait(), WAIT_MS / 1000)
    chat = sim.emulator.chats()[0]
    assert "+15550100001" in chat["typing"]


async def test_tapping_a_bot_bubble_sends_a_tapback(browser: Browser, sim: Simulation, phone_bot: PhoneBot) -> None:
    phone_bot.release.set()
    page = await open_phone(browser, sim)
    await say(page, "react to me")
    reply = page.locator(".row.from-bot .bubble", has_text="echo: react to me")
    await expect(reply).to_be_visible(timeout=WAIT_MS)

    await reply.click()
    await page.locator("#tapback-bar [data-tapback='laugh']").click()

    await expect(reply.locator(".tapback.by-me[data-reaction='laugh']")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(".row.from-bot .bubble", has_text="thanks for the laugh")).to_be_visible(timeout=WAIT_MS)

    await reply.click()
    await page.locator("#tapback-bar [data-tapback='laugh']").click()
    await expect(reply.locator(".tapback")).to_have_count(0, timeout=WAIT_MS)
    assert [e["event_type"] for e in sim.emulator.events() if e["event_type"].startswith("reaction.")][-1] == (
        "reaction.removed"
    )


async def test_images_both_ways_and_a_screen_effect(browser: Browser, sim: Simulation, phone_bot: PhoneBot) -> None:
    page = await open_phone(browser, sim)
    picture = f"{sim.emulator.url}/phone/bot.svg"
    await page.locator("#attach").click()
    await page.locator("#image-url").fill(picture)
    await page.locator("#send").click()

    mine = page.locator(f".row.from-me img[src='{picture}']")
    theirs = page.locator(f".row.from-bot img[src='{picture}']")
    await expect(mine).to_be_visible(timeout=WAIT_MS)
    await expect(theirs).to_be_visible(timeout=WAIT_MS)
    assert await theirs.evaluate("img => img.complete && img.naturalWidth > 0"), "the bot's picture did not load"

    await say(page, "party!")
    await expect(page.locator(".row.from-bot .effect-note[data-effect='confetti']")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#screen-effect span").first).to_be_attached(timeout=WAIT_MS)
    await page.screenshot(path=str(SCREENSHOTS / "linqbot-dev-effects.png"))


async def test_a_group_of_simulated_people(browser: Browser, sim: Simulation, phone_bot: PhoneBot) -> None:
    phone_bot.release.set()
    page = await open_phone(browser, sim)
    await page.locator("#new-person").fill("+15550100009")
    await page.locator("#add-person button").click()
    await page.locator("#new-group summary").click()
    await page.locator("#group-members input[value='+15550100002']").check()
    await page.locator("#group-members input[value='+15550100009']").check()
    await page.locator("#start-group").click()
    await say(page, "hi all")

    await expect(page.locator(".row.from-bot .bubble", has_text="echo: hi all")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#chat-title")).to_contain_text("Group", timeout=WAIT_MS)
    groups = [c for c in sim.emulator.chats() if c["is_group"]]
    assert len(groups) == 1
    assert sorted(groups[0]["handles"]) == ["+15550100001", "+15550100002", "+15550100009"]

    await page.locator("#people button", has_text="+15550100002").click()
    their_group = page.locator("#chats button", has_text="Group: Bot, +15550100001")  # the list as they see it
    await expect(their_group).to_be_visible(timeout=WAIT_MS)  # not the previous person's list, still on screen
    await their_group.click()
    await expect(page.locator(".row.from-person .sender", has_text="+15550100001")).to_be_visible(timeout=WAIT_MS)
    await say(page, "me too")
    await expect(page.locator(".row.from-bot .bubble", has_text="echo: me too")).to_be_visible(timeout=WAIT_MS)
    senders = {m["from"] for m in sim.emulator.messages(chat_id=groups[0]["id"], direction="inbound")}
    assert senders == {"+15550100001", "+15550100002"}
    await page.screenshot(path=str(SCREENSHOTS / "linqbot-dev-group.png"))


async def test_a_click_lands_while_messages_arrive(browser: Browser, sim: Simulation, phone_bot: PhoneBot) -> None:
    """Every change re-renders the page; a button pressed while one arrives must still take the click (it did not when
    the lists were rebuilt: the button under the mouse was replaced between press and release), and a ticked group box
    stays ticked."""
    phone_bot.release.set()
    page = await open_phone(browser, sim)
    await say(page, "hello")
    await expect(bot_bubble(page, "echo: hello")).to_be_visible(timeout=WAIT_MS)
    dm = sim.emulator.chats()[0]["id"]

    async def press_while_a_message_arrives(button: Locator, text: str, chat_id: str) -> None:
        box = await button.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await sim.emulator.inbound("+15550100001", text, chat_id=chat_id)
        rendered = page.locator("#chats .sub", has_text=f"echo: {text}")  # the page re-rendered under the mouse
        await expect(rendered).to_be_visible(timeout=WAIT_MS)
        await page.mouse.up()

    await page.locator("#new-group summary").click()
    await page.locator("#group-members input[value='+15550100002']").check()
    await page.locator("#group-members input[value='+15550100003']").check()
    await sim.emulator.inbound("+15550100001", "group hi", group=["+15550100002"])
    group = page.locator("#chats button", has_text="Group")
    await expect(group.locator(".sub")).to_have_text("echo: group hi", timeout=WAIT_MS)
    await expect(page.locator("#group-members input[value='+15550100002']")).to_be_checked()

    await page.locator("#people button", has_text="+15550100002").click()  # someone else holds the phone:
    await expect(page.locator("#group-members input:checked")).to_have_count(0)  # not the previous person's picks
    await page.locator("#people button", has_text="+15550100001").click()
    await press_while_a_message_arrives(group, "in the dm", dm)
    await expect(page.locator("#chat-title")).to_contain_text("Group", timeout=WAIT_MS)
    group_id = next(c["id"] for c in sim.emulator.chats() if c["is_group"])
    await press_while_a_message_arrives(page.locator("#chats button").first, "in the group", group_id)
    await expect(page.locator("#chat-title")).to_have_text("Bot", timeout=WAIT_MS)

    await page.locator("#new-person").fill("+15550100009")
    await page.locator("#add-person button").click()
    await press_while_a_message_arrives(page.locator("#people button", has_text="+15550100009"), "again", dm)
    await expect(page.locator("#people button[aria-current='true']")).to_have_text("+15550100009", timeout=WAIT_MS)
    await expect(page.locator(".empty")).to_contain_text("You are +15550100009")
