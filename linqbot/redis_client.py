"""How linqbot's own Redis users (the inbox, the safeguards, the state plugin) connect, which of Redis' errors a retry
can fix, and how a call rides out the ones it can."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClusterDownError,
    ConnectionError,
    ReadOnlyError,
    RedisError,
    TimeoutError,
    TryAgainError,
)

from linqbot.redact import mask_handle

T = TypeVar("T")

MAX_CONNECTIONS = 100
"""Connections per pool; further calls queue for one (each call holds one for a single round trip)."""

_PASSING = (ConnectionError, TimeoutError, OSError, ReadOnlyError, ClusterDownError, TryAgainError)
"""Redis unreachable or restarting (``LOADING`` is a `BusyLoadingError`, a `ConnectionError`), or failing over: a
demoted primary answers ``READONLY``, a cluster ``CLUSTERDOWN``/``MASTERDOWN`` or ``TRYAGAIN``."""

_HANDLE = re.compile(r"\+?\d{7,}|[^\s:|,{}]+@[^\s:|,{}]+")


def connect(url: str, *, decode_responses: bool = False) -> aioredis.Redis:
    """A client on a blocking pool: with more lanes, webhooks and sends in flight than connections, a call waits for a
    free one instead of failing with "Too many connections" (which turned a busy process's webhooks into 503s)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        socket_timeout=5,
        socket_connect_timeout=2,
        decode_responses=decode_responses,
    )
    return aioredis.Redis.from_pool(pool)


def is_transient(error: BaseException) -> bool:
    """Whether the same command may succeed if sent again once Redis is back or failed over.

    Anything else is Redis refusing the command itself — a script error, ``WRONGTYPE`` on a key another tool wrote,
    ``OOM`` past ``maxmemory``, a wrong password, ``NOPERM`` — which a retry only repeats, so callers fail at once.
    """
    return isinstance(error, _PASSING) and not isinstance(error, AuthenticationError | AuthorizationError)


def masked_key(key: str) -> str:
    """A Redis key fit for a log line or an error message: the phone numbers and addresses in it masked."""
    return _HANDLE.sub(lambda found: mask_handle(found.group()), key)


def redis_said(error: BaseException) -> str:
    """What Redis answered, fit for a log line or an error message: handles masked, and without the command
    redis-py quotes before a pipeline's error (its keys and the values written)."""
    text = str(error)
    _, quoted, answer = text.partition(" of pipeline caused error: ")
    return masked_key(answer if quoted else text)


FIRST_BACKOFF, MAX_BACKOFF = 0.05, 2.0


async def ride_out(call: Callable[[], Awaitable[T]], *, patience: float, log: logging.Logger, who: str) -> T:
    """Run ``call``, retrying with backoff while Redis is unreachable, restarting or failing over, for up to
    ``patience`` seconds; then, or at once for an error a retry cannot fix (`is_transient`), the error is raised for
    the caller to name in its own terms. ``call`` must be safe to repeat."""
    deadline = time.monotonic() + patience
    backoff = FIRST_BACKOFF
    while True:
        try:
            return await call()
        except (RedisError, OSError) as exc:
            if not is_transient(exc) or time.monotonic() + backoff > deadline:
                raise
            log.warning("%s: Redis unreachable (%s); retrying in %.2f s", who, type(exc).__name__, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
