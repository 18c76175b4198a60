"""examples/echo_bot.py as a person sees it: read receipt, tapback, typing, the echo, confetti, pictures."""

from __future__ import annotations

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"
PHOTO = "https://example.com/photos/beach.jpg"


async def test_echoes_with_a_read_receipt_a_tapback_and_typing() -> None:
    bot, _ = load_example("echo_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        sent = await ana.send("hello there")
        reply = await ana.expect_reply()
        assert reply.text == "You said: hello there"
        assert reply.effect is None
        assert ana.saw_typing()
        assert sent["message_id"] in ana.read_receipts()
        assert [r["type"] for r in ana.reactions_from_bot()] == ["like"]


async def test_celebrations_get_confetti() -> None:
    bot, _ = load_example("echo_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("Congrats on the new job!")
        reply = await ana.expect_reply()
        assert reply.text == "You said: Congrats on the new job!"
        assert reply.effect is not None and reply.effect["name"] == "confetti"


async def test_pictures_come_back_with_a_compliment_and_a_heart() -> None:
    bot, _ = load_example("echo_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send(parts=[{"type": "media", "url": PHOTO}])
        reply = await ana.expect_reply()
        assert reply.text == "Nice picture! 📸"
        assert reply.media_urls == [PHOTO]
        assert [r["type"] for r in ana.reactions_from_bot()] == ["love"]


async def test_thanks_people_for_tapbacks_but_not_itself() -> None:
    bot, _ = load_example("echo_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("hi")
        reply = await ana.expect_reply()
        await ana.react(reply.id, "laugh")
        assert (await ana.expect_reply()).text == "Thanks for the tapback! 🙌"
        await ana.expect_no_reply()  # the bot's own "like" on Ana's message earned no thanks
