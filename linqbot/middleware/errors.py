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


class LeadershipLost(SafeguardHold):
    """This process no longer leads the scheduler (it stalled past its lease, or Redis says another process leads):
    a scheduled job's Linq call is refused here, and a run that made no Linq call yet is handed to the leader.

    A `SafeguardHold`, because nothing went out: pacing gives back the budgets and pair slot the refused send took.

    A job raises one with ``resumable=True`` when running it again does only what is left (an outreach campaign:
    each person's send is keyed and recorded), so the run is handed to the leader even after some calls went out.
    """

    def __init__(self, message: str, *, resumable: bool = False) -> None:
        super().__init__(message)
        self.resumable = resumable
