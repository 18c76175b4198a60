"""The in-process backend: for tests and single-process bots that may forget everything on restart."""

from __future__ import annotations

import time
from collections.abc import Callable

from linqbot_state.store import Clock, StateStore, Write

SWEEP_EVERY = 1024
"""Writes between sweeps of records nobody reads any more."""


class MemoryStore(StateStore):
    """State in a dict. Records are kept as JSON text, so values behave exactly as on the persistent backends."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        self._records: dict[str, tuple[str, float | None]] = {}
        self._writes = 0

    async def _read(self, scope: str) -> str | None:
        record = self._records.get(scope)
        return None if record is None else record[0]

    async def _transact(self, scope: str, change: Callable[[str | None], Write]) -> None:
        record = self._records.get(scope)  # no await between this read and the write: atomic on the event loop
        text, expires_at = change(None if record is None else record[0])
        if text is None:
            self._records.pop(scope, None)
        else:
            self._records[scope] = (text, expires_at)
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._sweep()

    async def _drop(self, scope: str) -> None:
        self._records.pop(scope, None)

    def _sweep(self) -> None:
        now = self.clock()
        expired = [scope for scope, (_, at) in self._records.items() if at is not None and at <= now]
        for scope in expired:
            del self._records[scope]
