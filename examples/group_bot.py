"""A bot that lives in group chats and speaks only when spoken to: "Robo, pick pizza or sushi".

In a group, people talk to each other; a bot that answers every message is noise. This one answers in a group only
when a message starts with its name, threads its answer under the message it answers, and greets newcomers. In a
direct chat everything is addressed to it.

Try it:  linqbot dev examples/group_bot.py   (start a group in the phone simulator)
"""

import random
import re

from linqbot import Bot, Context

bot = Bot()

NAME = "Robo"
ADDRESSED = re.compile(rf"^\s*@?{NAME}\b[\s,:!]*", re.IGNORECASE)


def addressed_to_me(ctx: Context) -> bool:
    """A filter: every direct message, or a group message that starts with the bot's name."""
    return not ctx.is_group or ADDRESSED.match(ctx.text) is not None


def request(ctx: Context) -> str:
    """What was asked, without the bot's name in front."""
    return ADDRESSED.sub("", ctx.text, count=1).strip()


@bot.on_message(addressed_to_me, regex=re.compile(r"\bpick\b", re.IGNORECASE))
async def pick(ctx: Context) -> None:
    """'Robo, pick pizza or sushi or tacos': settle it."""
    options = [o.strip(" ?.!") for o in re.split(r",|\bor\b", request(ctx)[4:].strip()) if o.strip(" ?.!")]
    if len(options) < 2:
        await ctx.reply("Give me at least two options, like: pick pizza or sushi", reply_to=ctx.is_group)
        return
    await ctx.reply(f"I pick {random.choice(options)}! 🎲", reply_to=ctx.is_group)


@bot.on_message(addressed_to_me)
async def help_(ctx: Context) -> None:
    await ctx.reply(f"Hi! I'm {NAME}. Ask me to settle things: “{NAME}, pick pizza or sushi”.", reply_to=ctx.is_group)


@bot.on_participant_added()
async def welcome(ctx: Context) -> None:
    await ctx.reply(f"Welcome! 👋 Say “{NAME}, help” to see what I do.")
