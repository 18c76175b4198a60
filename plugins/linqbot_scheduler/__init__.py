"""Scheduled messages and jobs on APScheduler 3, persisted in a SQLAlchemy job store or the bot's Redis.

    @bot.every(minutes=5)
    async def sweep() -> None: ...

    @bot.cron("0 9 * * mon-fri", timezone="Europe/Paris")
    async def morning() -> None: ...

    await bot.schedule_message(to="+15551234567", text="Your table is ready", at=timedelta(minutes=30))

The plugin gives every bot ``every``, ``cron``, ``schedule``, ``schedule_message``, ``jobs``, ``cancel_job`` and
``job_runs``; ``scheduler_of(bot)`` returns the typed `BotScheduler` behind them. See docs/scheduling.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from linqbot.middleware.errors import LeadershipLost
from linqbot.plugins import hookimpl
from linqbot_scheduler.cli import add_commands
from linqbot_scheduler.delivery import DEFAULT_LEASE, DEFAULT_RETRY_FOR
from linqbot_scheduler.jobs import RetryScheduled, ScheduledSendFailed, TooLate
from linqbot_scheduler.runlog import JobRun
from linqbot_scheduler.scheduler import (
    DEFAULT_MAX_CONCURRENT_SENDS,
    DEFAULT_MISFIRE_GRACE,
    BotScheduler,
    JobNotPersistable,
    JobSpec,
    SchedulerNotRunning,
)
from linqbot_scheduler.store import DEFAULT_URL, URL_ENV, JobInfo, JobNotFound

if TYPE_CHECKING:
    from linqbot.bot import Bot

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_CONCURRENT_SENDS",
    "DEFAULT_MISFIRE_GRACE",
    "DEFAULT_RETRY_FOR",
    "DEFAULT_URL",
    "URL_ENV",
    "BotScheduler",
    "JobInfo",
    "JobNotFound",
    "JobNotPersistable",
    "JobRun",
    "JobSpec",
    "LeadershipLost",
    "RetryScheduled",
    "ScheduledSendFailed",
    "SchedulerNotRunning",
    "TooLate",
    "scheduler_of",
]

_schedulers: WeakKeyDictionary[Bot, BotScheduler] = WeakKeyDictionary()

_BOT_METHODS = ("every", "cron", "schedule", "schedule_message", "jobs", "cancel_job", "job_runs")


def scheduler_of(bot: Bot) -> BotScheduler:
    """The bot's scheduler (typed access to what ``bot.every`` & co. do); raises if the plugin is not loaded."""
    scheduler = _schedulers.get(bot)
    if scheduler is None:
        raise RuntimeError("the scheduler plugin is not loaded for this bot (check LINQBOT_PLUGINS / Bot(plugins=))")
    return scheduler


@hookimpl
def linqbot_setup(bot: Bot) -> None:
    """Give the bot its scheduler and the scheduling methods."""
    scheduler = BotScheduler(bot)
    _schedulers[bot] = scheduler
    for name in _BOT_METHODS:
        setattr(bot, name, getattr(scheduler, name))
    bot.scheduler = scheduler  # type: ignore[attr-defined]


@hookimpl
def linqbot_outbound_middleware(bot: Bot) -> list[Any]:
    """Fence scheduled jobs' Linq calls by the scheduler leadership, and bound their concurrent sends."""
    return [scheduler_of(bot).fence_calls]


@hookimpl
async def linqbot_startup(bot: Bot) -> None:
    await scheduler_of(bot).start()


@hookimpl
async def linqbot_shutdown(bot: Bot) -> None:
    await scheduler_of(bot).stop(bot.drain_timeout)


@hookimpl
async def linqbot_advance_time(bot: Bot, seconds: float) -> None:
    """Time travel for tests: jobs due within ``seconds`` run now."""
    await scheduler_of(bot).run_due(seconds)


@hookimpl
def linqbot_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_commands(subparsers)
