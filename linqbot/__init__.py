"""linqbot: build iMessage, RCS and SMS bots on the Linq Partner API v3.

from linqbot import Bot, Context

bot = Bot()

@bot.on_message(text="hi")
async def hi(ctx: Context) -> None:
    await ctx.reply("Hello!")
"""

from linqbot.bot import Bot
from linqbot.config import Config, ConfigError
from linqbot.dispatch import UNHANDLED, Context, Router, SkipHandler
from linqbot.middleware import BudgetExhausted, SafeguardHold, Safeguards
from linqbot.outbound import LinqAPIError

__all__ = [
    "UNHANDLED",
    "Bot",
    "BudgetExhausted",
    "Config",
    "ConfigError",
    "Context",
    "LinqAPIError",
    "Router",
    "SafeguardHold",
    "Safeguards",
    "SkipHandler",
]
__version__ = "0.1.0"
