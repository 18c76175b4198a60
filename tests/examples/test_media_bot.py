"""examples/media_bot.py: describes what you send, and sends a picture when asked."""

from __future__ import annotations

from linqbot.testing import simulate

from .conftest import load_example

ANA = "+15550100002"


async def test_describes_each_attachment_and_the_caption() -> None:
    bot, _ = load_example("media_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send(
            parts=[
                {"type": "media", "url": "https://example.com/photos/beach.jpg"},
                {"type": "text", "value": "Look where I am"},
                {"type": "media", "url": "https://example.com/files/menu.pdf"},
            ]
        )
        reply = (await ana.expect_reply()).text
        assert reply == (
            "Thanks! You sent 2 attachments:\n"
            "• a picture: beach.jpg (image/jpeg)\n"
            "• a file: menu.pdf (application/pdf)\n"
            "With the caption “Look where I am”."
        )
        assert [r["type"] for r in ana.reactions_from_bot()] == ["love"]


async def test_sends_a_picture_when_asked() -> None:
    bot, example = load_example("media_bot.py")
    async with simulate(bot) as sim:
        ana = sim.user(ANA)
        await ana.send("Can you send me a picture?")
        reply = await ana.expect_reply()
        assert reply.text == "Here's a cat for you 🐱"
        assert reply.media_urls == [example.PICTURE_URL]

        await ana.send("hello")
        assert (await ana.expect_reply()).media_urls == []
