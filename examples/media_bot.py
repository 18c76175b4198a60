"""A bot that handles pictures: it describes what you send it, and sends a picture when asked.

Inbound media arrive as media parts with a URL, a file name and a MIME type (`ctx.message.media`); outbound media
are public HTTPS URLs (at most 10 MB each) passed as `media=`. Download inbound files promptly if you need them:
Linq's URLs expire.

Try it:  linqbot dev examples/media_bot.py --say "send me a picture"   (or attach a photo in the simulator)
"""

from linqbot import Bot, Context

bot = Bot()

PICTURE_URL = "https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg"


def describe(mime_type: str | None) -> str:
    kind = (mime_type or "").split("/")[0]
    return {"image": "a picture", "video": "a video", "audio": "a recording"}.get(kind, "a file")


@bot.on_message(has_media=True)
async def received(ctx: Context) -> None:
    """Say what arrived: one line per attachment."""
    assert ctx.message is not None
    await ctx.react("love")
    lines = [
        f"• {describe(m.mime_type)}: {m.filename or 'unnamed'} ({m.mime_type or 'unknown type'})"
        for m in ctx.message.media
    ]
    caption = f"\nWith the caption “{ctx.text}”." if ctx.text else ""
    count = len(lines)
    await ctx.reply(f"Thanks! You sent {count} attachment{'s' if count != 1 else ''}:\n" + "\n".join(lines) + caption)


@bot.on_message(contains=["picture", "photo", "cat"])
async def send_picture(ctx: Context) -> None:
    """Media go out as URLs; text and media in one reply arrive as one message."""
    await ctx.reply("Here's a cat for you 🐱", media=PICTURE_URL)


@bot.on_message()
async def usage(ctx: Context) -> None:
    await ctx.reply("Send me a photo and I'll tell you what I got, or ask me for a picture.")
