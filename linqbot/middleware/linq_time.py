"""Linq's own timestamps, for rules about how people and bots behave rather than about when we got to an event.

A bot restarting with a backlog handles minutes of messages in a second: judged by processing time that backlog
looks like a flood or a bot-to-bot loop. When a message was written (``sent_at``) and when Linq took in our send
(``created_at`` of the sent message) are both on Linq's clock, so they compare with each other and stay true however
late an event is handled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from linqbot.events import Event, MessageEvent


def written_at(event: Event) -> float | None:
    """When the message in ``event`` was sent, by Linq's clock (the event's own time when it has no ``sent_at``)."""
    stamp = event.message.sent_at if isinstance(event, MessageEvent) else None
    stamp = stamp or event.created_at
    return stamp.timestamp() if stamp is not None else None


def accepted_at(response: Any) -> float | None:
    """When Linq took in the message a send created, by Linq's clock; None when the response carries no message."""
    sent = (
        getattr(response, "message", None)
        or getattr(getattr(response, "chat", None), "message", None)
        or getattr(response, "voice_memo", None)
    )
    created = getattr(sent, "created_at", None)
    return created.timestamp() if isinstance(created, datetime) else None
