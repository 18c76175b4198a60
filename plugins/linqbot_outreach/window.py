"""The sending window: quiet hours kept in each recipient's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_time(value: str | time) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"invalid time of day {value!r}: use HH:MM, like 09:00") from None


@dataclass(frozen=True)
class SendingWindow:
    """Local hours in which people may be messaged, ``start`` inclusive and ``end`` exclusive (may cross midnight)."""

    start: time = time(9)
    end: time = time(20)

    @classmethod
    def parse(cls, text: str) -> SendingWindow:
        """``"09:00-20:00"``."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"invalid sending window {text!r}: use START-END, like 09:00-20:00")
        return cls(parse_time(start.strip()), parse_time(end.strip()))

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("the sending window is empty (start equals end)")

    def is_open(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def opens_at(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The earliest time at or after ``moment`` when the window is open for someone in ``zone`` (UTC)."""
        if self.is_open(moment, zone):
            return moment
        local = moment.astimezone(zone)
        candidate = datetime.combine(local.date(), self.start, zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.start, zone)
        return candidate.astimezone(UTC)
