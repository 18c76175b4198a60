"""A friendly echo bot: it reads your message, likes it (👍), types for a moment, and says it back.
Pictures get a heart (❤️) and a compliment instead.

Try it on the phone simulator:   linqbot dev examples/echo_bot.py
or headless:                     linqbot dev examples/echo_bot.py --say "hello" --say "congrats!"
"""

import asyncio

from linqbot import Bot, Context
from linqbot.events import ReactionEvent

bot = Bot()

CELEBRATIONS = ("congrats", "congratulations", "happy birthday", "woohoo")
THINKING_SECONDS = 0.6
"""A short pause with the typing indicator on, so it feels like a person answering."""


@bot.on_message(has_media=True)
async def picture(ctx: Context) -> None:
    """Pictures come back with a compliment."""
    await ctx.mark_read()
    await ctx.react("love")
    async with ctx.typing():
        await asyncio.sleep(THINKING_SECONDS)
    pictures = [media.url for media in ctx.message.media] if ctx.message else []
    await ctx.reply(ctx.text or "Nice picture! 📸", media=pictures)


@bot.on_message()
async def echo(ctx: Context) -> None:
    """Everything else is echoed, and celebrations get confetti."""
    await ctx.mark_read()
    await ctx.react("like")
    async with ctx.typing():
        await asyncio.sleep(THINKING_SECONDS)
    celebrating = any(word in ctx.text.lower() for word in CELEBRATIONS)
    await ctx.reply(f"You said: {ctx.text}", effect="confetti" if celebrating else None)


def from_a_person(ctx: Context) -> bool:
    """Linq reports the bot's own tapbacks too; only thank people for theirs."""
    return isinstance(ctx.event, ReactionEvent) and not ctx.event.reaction.is_from_me


@bot.on_reaction(from_a_person)
async def thanks(ctx: Context) -> None:
    """People can tap back on the bot's bubbles too."""
    await ctx.reply("Thanks for the tapback! 🙌")
