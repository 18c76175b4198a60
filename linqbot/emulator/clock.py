"""The emulator clock: wall time plus an offset tests can advance, so time-based rules are testable."""

from datetime import UTC, datetime, timedelta
from functools import lru_cache


class Clock:
    """Wall-clock UTC time shifted by everything passed to :meth:`advance`."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> datetime:
        self.offset += timedelta(seconds=seconds)
        return self.now()


@lru_cache(maxsize=4096)
def iso(value: datetime) -> str:
    """Render a datetime the way the API does: UTC, milliseconds, trailing ``Z``.

    Cached: one message's timestamps are rendered again in every view, response and webhook of it.
    """
    return value.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)
