"""The hooks a linqbot plugin can implement. Each is documented in docs/plugins.md; a test fails when one is not.

Implement them with ``linqbot.plugins.hookimpl``. Hooks marked *async* may be ``async def`` (or plain functions);
linqbot awaits whatever they return. Hooks returning lists are merged across plugins in pluggy's call order.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from linqbot.bot import Bot
    from linqbot.dispatch.context import Context
    from linqbot.dispatch.router import Router

hookspec = pluggy.HookspecMarker("linqbot")


@hookspec
def linqbot_setup(bot: Bot) -> None:
    """Called once when a bot is created: attach decorators, register handlers, middleware and filters."""


@hookspec
def linqbot_routers(bot: Bot) -> Router | list[Router] | None:
    """Return routers to include in the bot, after the bot's own handlers."""


@hookspec
def linqbot_middleware(bot: Bot) -> list[Any] | None:
    """Return inner middleware (``async def mw(ctx, call_next)``) wrapping every matched handler."""


@hookspec
def linqbot_outer_middleware(bot: Bot) -> list[Any] | None:
    """Return outer middleware that sees every event before routing."""


@hookspec
def linqbot_outbound_middleware(bot: Bot) -> list[Any] | None:
    """Return outbound middleware (``async def mw(call, call_next)``) wrapping every Linq API call."""


@hookspec
def linqbot_storage_backends() -> dict[str, Any] | None:
    """Return storage backends by URL scheme (``{"redis": factory}``); a factory takes the URL and returns a store."""


@hookspec
def linqbot_scheduled_jobs(bot: Bot) -> list[Any] | None:
    """Return jobs for the scheduler plugin to register at start-up (see docs/scheduling.md for the job spec)."""


@hookspec
def linqbot_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add subcommands to the ``linqbot`` command line; set ``func`` on each parser (it gets the parsed args)."""


@hookspec
def linqbot_startup(bot: Bot) -> Any:
    """*Async.* The bot is starting: open connections, start schedulers."""


@hookspec
def linqbot_shutdown(bot: Bot) -> Any:
    """*Async.* The bot is stopping after in-flight events finished: flush and close what ``startup`` opened."""


@hookspec
def linqbot_advance_time(bot: Bot, seconds: float) -> Any:
    """*Async.* A test moved time forward: run now the work that would have come due within ``seconds``."""


@hookspec
def linqbot_event(ctx: Context) -> Any:
    """*Async.* Observe every accepted event before routing (only wired in when some plugin implements it)."""


@hookspec
def linqbot_handle_error(ctx: Context, error: Exception) -> Any:
    """*Async.* Handling an event raised and no ``on_error`` handler took it; return True when handled."""
