"""Deliverability safeguards: built-in middleware that keeps a bot from hurting its Linq line.

On by default (``Bot(safeguards=...)`` tunes them); each one is ordinary middleware, removable by name. Why each
exists, and the numbers behind it, are in docs/deliverability.md.
"""

from linqbot.dispatch.router import OPT_IN_EVENT, OPT_OUT_EVENT
from linqbot.middleware.chats import ChatView
from linqbot.middleware.clock import Clock, ManualClock, SystemClock
from linqbot.middleware.errors import (
    BudgetExhausted,
    ChatHealthHold,
    DailyBudgetExhausted,
    LineHold,
    NewChatBudgetExhausted,
    NonResponderHold,
    SafeguardHold,
)
from linqbot.middleware.flood import Flood
from linqbot.middleware.health import Health
from linqbot.middleware.install import SafeguardRuntime, Safeguards, install_safeguards
from linqbot.middleware.loop_breaker import LoopBreaker
from linqbot.middleware.non_responders import NonResponders
from linqbot.middleware.optout import OptOut, is_opt_out_keyword
from linqbot.middleware.pacing import Pacing
from linqbot.middleware.store import MemoryStore, SafeguardStore, SafeguardStoreUnavailable
from linqbot.middleware.typing import Typing

__all__ = [
    "OPT_IN_EVENT",
    "OPT_OUT_EVENT",
    "BudgetExhausted",
    "ChatHealthHold",
    "ChatView",
    "Clock",
    "DailyBudgetExhausted",
    "Flood",
    "Health",
    "LineHold",
    "LoopBreaker",
    "ManualClock",
    "MemoryStore",
    "NewChatBudgetExhausted",
    "NonResponderHold",
    "NonResponders",
    "OptOut",
    "Pacing",
    "SafeguardHold",
    "SafeguardRuntime",
    "SafeguardStore",
    "SafeguardStoreUnavailable",
    "Safeguards",
    "SystemClock",
    "Typing",
    "install_safeguards",
    "is_opt_out_keyword",
]
