"""`Reads`: the store values one event or one send is checked against, fetched in one round trip.

Each safeguard names the values it reads for an inbound event (or a send); the first read fetches them all at once
(``get_many``: one MGET on Redis) instead of one round trip per value. A copy lives only as long as its event's outer
middleware (kept per `Context`, which sends never see) or its send's gates (kept on the `OutboundCall`), writes
through it update it, and a send that waited for its turn reads afresh: no check acts on an older value than it
would have read on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from linqbot.middleware.store import SafeguardStore


class Reads:
    """The values at ``keys``, read together on first use; other keys go to the store one by one."""

    def __init__(self, store: SafeguardStore, keys: Iterable[str]) -> None:
        self.store = store
        self._keys = list(dict.fromkeys(keys))
        self._values: dict[str, str | None] | None = None

    async def get(self, key: str) -> str | None:
        if self._values is None:
            self._values = dict(zip(self._keys, await self.store.get_many(self._keys), strict=True))
        if key in self._values:
            return self._values[key]
        return await self.store.get(key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self.store.set(key, value, ttl)
        if self._values is not None:
            self._values[key] = value

    async def delete(self, *keys: str) -> None:
        await self.store.delete(*keys)
        if self._values is not None:
            self._values.update(dict.fromkeys(keys))

    async def incr(self, key: str, ttl: float | None = None) -> int:
        count = await self.store.incr(key, ttl)
        if self._values is not None:
            self._values[key] = str(count)
        return count

    def refresh(self) -> None:
        """Time passed (a send waited): read everything afresh on the next use."""
        self._values = None
