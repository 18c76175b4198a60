"""Campaign pacing: at most N messages per minute and M per hour, on an injectable clock."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from linqbot.middleware import Clock


@dataclass(frozen=True)
class Pacing:
    """How fast a campaign may go; ``None`` leaves a limit off. Linq rewards a steady, conversational pace."""

    per_minute: int | None = 10
    per_hour: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("per_minute", self.per_minute), ("per_hour", self.per_hour)):
            if value is not None and value < 1:
                raise ValueError(f"pacing {name} must be at least 1, got {value}")


class Pacer:
    """Sliding windows over the campaign's own send times."""

    def __init__(self, pacing: Pacing, clock: Clock) -> None:
        self.limits = [(limit, span) for limit, span in ((pacing.per_minute, 60.0), (pacing.per_hour, 3600.0)) if limit]
        self.clock = clock
        self.sent: deque[float] = deque()

    def delay(self) -> float:
        """Seconds to wait before the next send may go."""
        now = self.clock.now()
        wait = 0.0
        for limit, span in self.limits:
            recent = [t for t in self.sent if t > now - span]
            if len(recent) >= limit:
                wait = max(wait, recent[-limit] + span - now)
        return wait

    async def wait(self) -> None:
        while (delay := self.delay()) > 0:
            await self.clock.sleep(delay)

    def record(self) -> None:
        self.sent.append(self.clock.now())
        horizon = max((span for _, span in self.limits), default=0.0)
        while self.sent and self.sent[0] <= self.clock.now() - horizon:
            self.sent.popleft()
