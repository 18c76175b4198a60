"""Every Context action and proactive send, through the real client, against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from linq import NotFoundError

from linqbot import Bot, Context
from linqbot.outbound import ChatUnavailable, InvalidRequest, OptedOut
from linqbot.testing import simulate

pytestmark = pytest.mark.usefixtures("linq_env")

PERSON = "+15550100100"
FRIENDS = ["+15550100101", "+15550100102", "+15550100103"]


async def test_proactive_send_opens_a_chat_and_send_to_chat_continues_it() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        sent = await bot.send(PERSON, "Your order shipped")
        first = await user.expect_reply()
        assert first.text == "Your order shipped"
        chat_id = sent.chat.id
        await bot.send_to_chat(chat_id, "It arrives Tuesday", effect="gentle")
        second = await user.expect_reply()
        assert (second.chat_id, second.text, second.effect) == (
            chat_id,
            "It arrives Tuesday",
            {"type": "bubble", "name": "gentle"},
        )


async def test_send_without_a_line_uses_automatic_line_selection() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot, configure_line=False) as sim:
        response = await bot.send(PERSON, "hello from any line")
        assert response.from_ == sim.emulator.line
        assert response.from_selection.reason in {"new_best_number", "reused_active_chat"}
        assert (await sim.user(PERSON).expect_reply()).text == "hello from any line"


async def test_first_message_rules_surface_as_typed_errors() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot):
        with pytest.raises(InvalidRequest) as caught:
            await bot.send(PERSON, "see https://example.com")
        assert caught.value.code == 1005
        assert caught.value.status == 400
        assert caught.value.trace_id


async def test_media_link_voice_memo_edit_and_delete() -> None:
    bot = Bot(env_file=None)
    results: dict[str, Any] = {}

    @bot.on_message(text="media")
    async def media(ctx: Context) -> None:
        await ctx.reply("A picture", media="https://example.com/cat.png")

    @bot.on_message(text="link")
    async def link(ctx: Context) -> None:
        await ctx.reply(link="https://linqapp.com")

    @bot.on_message(text="voice")
    async def voice(ctx: Context) -> None:
        results["voice"] = await ctx.send_voice_memo(url="https://example.com/memo.m4a")

    @bot.on_message(text="delete")
    async def delete(ctx: Context) -> None:
        sent = await ctx.reply("This will self-destruct")
        await ctx.delete(sent.message.id)
        results["deleted"] = sent.message.id

    @bot.on_message(text="card")
    async def card(ctx: Context) -> None:
        await ctx.share_contact_card()
        results["card"] = True

    @bot.on_message(text="edit")
    async def edit(ctx: Context) -> None:
        sent = await ctx.reply("Tpyo")
        await ctx.edit(sent.message.id, "Typo fixed")
        results["edited"] = sent.message.id

    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("media")
        reply = await user.expect_reply()
        assert reply.text == "A picture" and reply.media_urls == ["https://example.com/cat.png"]
        await user.send("link")
        assert (await user.expect_reply()).parts[0]["type"] == "link"
        await user.send("voice")
        await user.expect_reply()
        await sim.idle()
        assert results["voice"].voice_memo.id
        await user.send("edit")
        await user.expect_reply()
        await sim.idle()
        edited = next(m for m in sim.emulator.messages() if m["id"] == results["edited"])
        assert edited["text"] == "Typo fixed" and edited["edit_count"] == 1

        await user.send("delete")
        await user.expect_reply()
        await sim.idle()
        with pytest.raises(NotFoundError):
            await bot.client.sdk.messages.retrieve(results["deleted"])

        await bot.client.sdk.contact_card.create(phone_number=sim.emulator.line, first_name="Linq", last_name="Bot")
        await user.send("card")
        await sim.idle()
        assert results["card"] is True


async def test_groups_participants_and_leaving() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot) as sim:
        response = await bot.create_group([PERSON, *FRIENDS], "Welcome, team!", name="Launch crew")
        chat_id = response.chat.id
        chat = next(c for c in sim.emulator.chats() if c["id"] == chat_id)
        assert chat["is_group"] and chat["display_name"] == "Launch crew"
        await bot.client.add_participant(chat_id, "+15550100104")
        await bot.client.remove_participant(chat_id, FRIENDS[0])
        await sim.idle()
        chat = next(c for c in sim.emulator.chats() if c["id"] == chat_id)
        assert "+15550100104" in chat["handles"] and FRIENDS[0] not in chat["handles"]
        await bot.client.leave_chat(chat_id)
        with pytest.raises(ChatUnavailable):
            await bot.send_to_chat(chat_id, "still here?")


async def test_group_messages_reach_handlers_as_group_messages() -> None:
    bot = Bot(env_file=None)

    @bot.on_message(group=True)
    async def in_group(ctx: Context) -> None:
        await ctx.reply(f"group hello from {len(ctx.text)}")

    @bot.on_message(group=False)
    async def in_dm(ctx: Context) -> None:
        await ctx.reply("dm hello")

    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("hey all", group=FRIENDS[:2])
        assert (await user.expect_reply()).text == "group hello from 7"
        await user.send("just us")
        assert (await user.expect_reply()).text == "dm hello"


async def test_capability_checks_and_contact_card_and_location() -> None:
    bot = Bot(env_file=None)
    shared: list[str] = []

    @bot.on_message(text="where")
    async def where(ctx: Context) -> None:
        await ctx.request_location()
        shared.append("asked")

    async with simulate(bot) as sim:
        assert await bot.check_imessage(PERSON) is True
        assert isinstance(await bot.check_rcs(PERSON), bool)
        user = sim.user(PERSON)
        await user.send("where")
        await sim.idle()
        assert shared == ["asked"]


async def test_opted_out_person_is_refused_unless_overridden() -> None:
    bot = Bot(env_file=None)
    async with simulate(bot) as sim:
        user = sim.user(PERSON)
        await user.send("STOP")
        await sim.idle()
        with pytest.raises(OptedOut) as caught:
            await bot.send(PERSON, "one more thing")
        assert caught.value.code == 2024
        await bot.send(PERSON, "You're unsubscribed.", override_optout=True)
        assert (await user.expect_reply()).text == "You're unsubscribed."
