"""How linqbot's own Redis users (the inbox, the safeguards) connect: one pool per user and process."""

from __future__ import annotations

import redis.asyncio as aioredis

MAX_CONNECTIONS = 100
"""Connections per pool; further calls queue for one (each call holds one for a single round trip)."""


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
