"""How linqbot's own Redis users (the inbox, the safeguards) connect, and which of Redis' errors a retry can fix."""

from __future__ import annotations

import re

import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClusterDownError,
    ConnectionError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from linqbot.redact import mask_handle

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
