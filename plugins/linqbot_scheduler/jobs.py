"""Job functions the plugin itself stores, and how a stored job finds the scheduler running it.

A stored job can only hold importable references and picklable arguments, never the `Bot` object; the scheduler's
executor marks every run with the scheduler that started it (a context variable), so a built-in job reaches its bot
even when several bots share one process (tests of a scaled-out deployment). The same mark counts the run's Linq
calls that passed the leadership fence, which decides whether a fenced run can be handed to the leader whole.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from linqbot.middleware.errors import LeadershipLost
from linqbot.outbound import LinqAPIError
from linqbot.redact import mask_handle
from linqbot_scheduler.delivery import is_transient, retry_delay

if TYPE_CHECKING:
    from linqbot_scheduler.scheduler import BotScheduler

log = logging.getLogger("linqbot.scheduler")


@dataclass
class Execution:
    """One job run on this process: the scheduler that started it, and how many of its Linq calls other than reads
    (sends, reactions, edits, group changes…) the leadership fence let through or refused (a job that swallows
    `LeadershipLost` is still known to have been fenced)."""

    scheduler: BotScheduler
    calls: int = 0
    refused: int = 0


executing: ContextVar[Execution] = ContextVar("linqbot_scheduler_executing")
"""The current job run, set by the scheduler's executor."""


@dataclass(frozen=True)
class HandedBack:
    """A run this process claimed but did not do, because it no longer leads: it is due again for the leader."""

    def __str__(self) -> str:
        return "handed to the leading process (this one lost the scheduler leadership)"


class ScheduledSendFailed(Exception):
    """A scheduled message was refused; carries the Linq error class and code but not the recipient."""

    def __init__(self, error: LinqAPIError) -> None:
        self.error_class = type(error).__name__
        self.status = error.status
        self.code = error.code
        super().__init__(f"{self.error_class} (status {error.status}, code {error.code}, trace_id {error.trace_id})")


@dataclass(frozen=True)
class RetryScheduled:
    """A send failed for a transient reason; the message is due again at ``at`` (recorded as ``retrying``).

    The scheduler moves the job when the run has ended: moved earlier, the next attempt could come due while this
    run still counts as running, and APScheduler would skip it until the lease ends."""

    reason: str
    attempt: int
    at: datetime

    def __str__(self) -> str:
        return f"attempt {self.attempt} failed ({self.reason}); next at {self.at.isoformat()}"


@dataclass(frozen=True)
class TooLate:
    """The message's first attempt came later than its grace time allows (recorded as ``missed``)."""

    late_by: float

    def __str__(self) -> str:
        return f"{self.late_by:.0f} s late, beyond misfire_grace_time; not sent"


def executing_scheduler(bot_name: str) -> BotScheduler:
    run = executing.get(None)
    if run is None:
        raise RuntimeError("scheduled jobs run on the bot's scheduler (this one was called directly)")
    scheduler = run.scheduler
    if scheduler.bot.name != bot_name:
        raise RuntimeError(f"this job belongs to bot {bot_name!r}, not {scheduler.bot.name!r} (Bot(name=...))")
    return scheduler


async def send_scheduled_message(
    bot_name: str,
    job_id: str,
    *,
    to: str | list[str] | None = None,
    chat_id: str | None = None,
    text: str | None = None,
    media: str | list[str] | None = None,
    effect: str | None = None,
    due: float | None = None,
    grace: float | None = None,
    attempt: int = 1,
) -> str | RetryScheduled | TooLate:
    """Send now, through ``bot.send``/``bot.send_to_chat`` so every outbound gate applies at fire time.

    The job stays stored until this settles it; a transient failure moves it to a later time instead (same key).
    """
    scheduler = executing_scheduler(bot_name)
    bot = scheduler.bot
    key = f"scheduled:{job_id}"
    who = f"chat {chat_id}" if chat_id else mask_handle(to if isinstance(to, str) else ",".join(to or []))
    late_by = time.time() - due if due is not None else 0.0
    if attempt == 1 and grace is not None and late_by > grace:
        scheduler.settle(job_id)
        log.warning("scheduled message %s to %s not sent: %.0f s late (misfire_grace_time)", job_id, who, late_by)
        return TooLate(late_by)
    try:
        if chat_id is not None:
            result: Any = await bot.send_to_chat(chat_id, text, media=media, effect=effect, idempotency_key=key)
        else:
            assert to is not None
            result = await bot.send(to, text, media=media, effect=effect, idempotency_key=key)
    except LinqAPIError as error:
        at = datetime.now(UTC) + timedelta(seconds=retry_delay(error, attempt, scheduler.retry_backoff))
        if is_transient(error) and due is not None and at.timestamp() <= due + scheduler.retry_for:
            reason = f"{type(error).__name__}, status {error.status}"
            log.info("scheduled message %s to %s: %s; retrying at %s", job_id, who, reason, at.isoformat())
            return RetryScheduled(reason, attempt, at)  # the scheduler moves the job once this run has ended
        scheduler.settle(job_id)
        log.warning("scheduled message %s to %s not sent: %s (code %s)", job_id, who, type(error).__name__, error.code)
        raise ScheduledSendFailed(error) from None
    except LeadershipLost:
        raise  # not settled: the job stays stored for the process that leads now
    except Exception:
        scheduler.settle(job_id)
        raise
    scheduler.settle(job_id)
    log.info("scheduled message %s sent to %s", job_id, who)
    return _message_id(result)


def _message_id(result: Any) -> str:
    """The sent message's id from either send shape (``chat.message.id`` or ``message.id``)."""
    chat = getattr(result, "chat", None)
    message = getattr(chat, "message", None) or getattr(result, "message", None)
    return str(getattr(message, "id", ""))
