"""Commands: people type `weather paris` or `/weather paris`; arguments parsed from the handler signature.

    @bot.command("forecast", aliases=["f"])
    async def forecast(ctx: Context, days: int, city: Rest) -> None:
        \"\"\"The forecast for a city: forecast 3 new york.\"\"\"

Commands run before plain ``on_message`` handlers; a message that is not a command falls through to them.
``configure(bot, prefixes=..., unknown=..., help=...)`` changes how messages are read. See docs/plugins.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linqbot.plugins import hookimpl
from linqbot_commands.registry import Command, Commands, Invocation, UnknownHandler, attach, configure
from linqbot_commands.signature import Rest, UsageError

if TYPE_CHECKING:
    from linqbot.bot import Bot

__all__ = ["Command", "Commands", "Invocation", "Rest", "UnknownHandler", "UsageError", "configure"]


@hookimpl
def linqbot_setup(bot: Bot) -> None:
    """Put the command handler first in the bot's message handlers."""
    attach(bot)


@hookimpl
def linqbot_startup(bot: Bot) -> None:
    """Check every command's signature now, so a bad one fails start-up rather than a person's message."""
    configure(bot).all()
