"""Linq's behavioural rules that don't need the state: handles, opt-out keywords, rate windows, health."""

import math
import re
from collections import deque

from linqbot.emulator.state import Health

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SHORT_CODE = re.compile(r"[0-9]{3,8}")
URL_IN_TEXT = re.compile(r"https?://|www\.[a-z0-9-]+\.", re.IGNORECASE)

# concepts.md §9: case-sensitive exact keywords, plus "OPT OUT" in any casing with space/hyphen/nothing.
OPT_OUT_KEYWORDS = frozenset({"STOP", "UNSUBSCRIBE", "OPTOUT", "CANCEL", "END", "QUIT"})
OPT_OUT_ANY_CASE = re.compile(r"opt[ -]?out", re.IGNORECASE)


def is_e164(value: str) -> bool:
    return E164.fullmatch(value) is not None


def is_handle(value: str) -> bool:
    """A chat participant address: E.164 phone number or email."""
    return is_e164(value) or EMAIL.fullmatch(value) is not None


def normalize_handle(value: str) -> str:
    return value.lower() if "@" in value else value


def is_opt_out(text: str) -> bool:
    """True when the whole trimmed message is an opt-out keyword."""
    trimmed = text.strip()
    return trimmed in OPT_OUT_KEYWORDS or OPT_OUT_ANY_CASE.fullmatch(trimmed) is not None


def health_for(unanswered: int, at_risk_after: int, critical_after: int) -> Health:
    """The emulator's engagement model: consecutive unanswered outbound messages decide the status."""
    if unanswered >= critical_after:
        return "CRITICAL"
    if unanswered >= at_risk_after:
        return "AT_RISK"
    return "HEALTHY"


class SlidingWindow:
    """At most ``limit`` hits per key within ``window`` seconds of the emulator clock."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds until ``key`` may be hit again, or None when it is under its limit."""
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        return None

    def record(self, key: str, now: float) -> None:
        self._hits.setdefault(key, deque()).append(now)

    def clear(self) -> None:
        self._hits.clear()


def first_message_violation(parts: list[dict[str, object]], has_effect: bool, has_reply: bool) -> str | None:
    """Why a brand-new chat's first message is refused (400/1005), or None when it is allowed."""
    if any(p["type"] == "link" for p in parts):
        return "The first message of a new chat may not contain a link part"
    if any(p["type"] == "text" and URL_IN_TEXT.search(str(p["value"])) for p in parts):
        return "The first message of a new chat may not contain a URL"
    if has_effect:
        return "The first message of a new chat may not use an effect"
    if has_reply:
        return "The first message of a new chat may not be a reply"
    return None
