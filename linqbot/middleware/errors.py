"""Typed refusals raised by the safeguards before any HTTP request is made.

Opt-outs, blocks and ineligible lines reuse the API's own error classes (`OptedOut`, `RecipientBlocked`, …) so a
handler catches one class whether Linq or linqbot said no; the holds below have no API equivalent.
"""

from __future__ import annotations


class SafeguardHold(Exception):
    """A send linqbot held back to protect the line's reputation; nothing was sent.

    ``retry_at`` (epoch seconds), when known, is the earliest time the same send could pass.
    """

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class BudgetExhausted(SafeguardHold):
    """A per-line volume budget is used up for the rolling window."""


class DailyBudgetExhausted(BudgetExhausted):
    """The line reached its daily message budget (inbound + outbound, rolling 24 h)."""


class NewChatBudgetExhausted(BudgetExhausted):
    """The line opened as many new conversations as allowed in the rolling 24 h."""


class NonResponderHold(SafeguardHold):
    """A proactive send to someone who has not answered the last N messages."""


class ChatHealthHold(SafeguardHold):
    """The chat's health (AT_RISK with too many unanswered, or CRITICAL) does not allow this send now."""


class LineHold(SafeguardHold):
    """The line's reputation (CRITICAL) does not allow this send now."""
