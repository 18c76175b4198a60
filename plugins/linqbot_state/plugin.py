"""The state plugin's hooks: attach the store and middleware to each bot, open and close the store with it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from linqbot.plugins import hookimpl
from linqbot_state.backends import BUILT_IN, Factory
from linqbot_state.runtime import StateRuntime

if TYPE_CHECKING:
    from linqbot.bot import Bot

_runtimes: WeakKeyDictionary[Bot, StateRuntime] = WeakKeyDictionary()


def runtime_of(bot: Bot) -> StateRuntime:
    """The state plugin's part of ``bot`` (KeyError when the plugin is not loaded for it)."""
    return _runtimes[bot]


@hookimpl
def linqbot_setup(bot: Bot) -> None:
    runtime = StateRuntime(bot)
    runtime.install()
    _runtimes[bot] = runtime


@hookimpl
def linqbot_storage_backends() -> dict[str, Factory]:
    return dict(BUILT_IN)


@hookimpl
async def linqbot_startup(bot: Bot) -> None:
    await _runtimes[bot].startup()


@hookimpl
async def linqbot_shutdown(bot: Bot) -> None:
    await _runtimes[bot].shutdown()
