"""How a scheduled message gets sent once even when its process dies or Linq has a bad minute.

Its job stays stored until the send is settled (sent, refused for good, or out of time): the trigger fires at the
message's time and then again every ``lease`` seconds, so if the process running it dies mid-send, whichever process
leads next sends it again after the lease — under the same idempotency key, which Linq answers with the original
message instead of a second one. A send that fails for a transient reason is moved to a later time with backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]

from linqbot.outbound import LinqAPIError, LinqConnectionError, RateLimited, RetryPolicy, ServerError
from linqbot.outbound.retry import CHAT_BEING_CREATED

DEFAULT_LEASE = 60.0
"""Seconds a started send may take before another attempt may start (a process died): longer than a send that is
held by pacing for its pair's window."""
DEFAULT_RETRY_FOR = 3600.0
"""Seconds after its time a message whose sends keep failing for transient reasons is still retried."""

DEFAULT_BACKOFF = RetryPolicy(base_delay=1.0, max_delay=60.0)
"""Between attempts of a scheduled message: 1 s, 2 s, 4 s … capped at a minute (each on top of the client's own
quick retries of the one call)."""


class UntilSettled(BaseTrigger):  # type: ignore[misc]
    """Fires at ``run_date``, then every ``lease`` seconds until the job is removed or ``deadline`` passes."""

    __slots__ = ("deadline", "lease", "run_date")

    def __init__(self, run_date: datetime, lease: float, deadline: datetime) -> None:
        self.run_date = run_date
        self.lease = lease
        self.deadline = deadline

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            return self.run_date
        later = previous_fire_time + timedelta(seconds=self.lease)
        return later if later <= self.deadline else None

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "run_date": self.run_date, "lease": self.lease, "deadline": self.deadline}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.run_date, self.lease, self.deadline = state["run_date"], state["lease"], state["deadline"]

    def __str__(self) -> str:
        return f"date[{self.run_date.isoformat()}] until sent"

    def __repr__(self) -> str:
        return f"<UntilSettled (run_date={self.run_date.isoformat()!r}, lease={self.lease})>"


def is_transient(error: LinqAPIError) -> bool:
    """Worth sending again later: no answer, a timeout, a 5xx, a 429, or a chat still being created."""
    if isinstance(error, LinqConnectionError | ServerError | RateLimited):
        return True
    return error.status == 409 and error.code == CHAT_BEING_CREATED


def retry_delay(error: LinqAPIError, attempt: int, backoff: RetryPolicy) -> float:
    """Backoff after failed attempt ``attempt``, never shorter than Linq's ``Retry-After``."""
    return max(backoff.backoff(attempt), error.retry_after or 0.0)
