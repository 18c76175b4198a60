"""Retry policy for Linq calls.

We turn the SDK's retries off and retry here because the SDK gets three things wrong for Linq: it
retries every 409 (most are permanent), it ignores ``Retry-After`` above 60 s (so a rate-limited bot
hammers the API), and it cannot tell errors apart by Linq code.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import linq

from .errors import LinqAPIError, LinqConnectionError, RateLimited, ServerError, from_sdk_error

__all__ = ["CHAT_BEING_CREATED", "RetryPolicy", "call_with_retry"]

T = TypeVar("T")

CHAT_BEING_CREATED = 2009
"""The only 409 code that is transient: the chat exists in a moment."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``jitter`` multiplies each backoff delay by a random factor."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: tuple[float, float] = (0.75, 1.0)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number ``attempt`` (1-based): capped exponential with jitter."""
        delay = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        return delay * random.uniform(*self.jitter)


def _delay_for(error: LinqAPIError, attempt: int, policy: RetryPolicy, idempotent: bool) -> float | None:
    """Seconds to wait before the next attempt, or None when the error must surface now.

    Rate limits and "chat still being created" mean the request was not acted on, so they are safe to
    repeat for any call; server errors and timeouts may have been half-done, so only idempotent calls
    retry them.
    """
    if isinstance(error, RateLimited):
        return error.retry_after if error.retry_after is not None else policy.backoff(attempt)
    if error.status == 409 and error.code == CHAT_BEING_CREATED:
        return policy.backoff(attempt)
    if idempotent and isinstance(error, ServerError | LinqConnectionError):
        return policy.backoff(attempt)
    return None


async def call_with_retry(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    on_retry: Callable[[LinqAPIError, float], None] | None = None,
    idempotent: bool = True,
) -> T:
    """Run ``attempt`` until it succeeds or the policy gives up, raising a typed :class:`LinqAPIError`.

    SDK exceptions raised by ``attempt`` are converted here. ``sleep`` is injectable so tests and the
    emulator clock control time. Pass ``idempotent=False`` for a POST that has no idempotency key.
    """
    number = 0
    while True:
        number += 1
        try:
            return await attempt()
        except linq.APIError as exc:
            error = from_sdk_error(exc)
        except LinqAPIError as exc:
            error = exc
        delay = _delay_for(error, number, policy, idempotent)
        if delay is None or number == policy.max_attempts:
            raise error
        if on_retry is not None:
            on_retry(error, delay)
        await sleep(delay)
