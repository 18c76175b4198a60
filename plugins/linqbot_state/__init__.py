"""Conversation state: per-chat and per-person state with TTLs, flows (``state=``) and ``ctx.ask``, stored in
memory, SQLite or Redis. Loaded as the ``state`` plugin; see docs/state.md.
"""

from linqbot_state.ask import DEFAULT_ASK_TIMEOUT, PARKED, AskTimeout
from linqbot_state.backends import DEFAULT_URL, URL_SETTING, store_from_url
from linqbot_state.context import StateContext
from linqbot_state.flows import ANY_STATE, NO_STATE, StateFilter
from linqbot_state.memory_store import MemoryStore
from linqbot_state.plugin import linqbot_setup, linqbot_shutdown, linqbot_startup, linqbot_storage_backends, runtime_of
from linqbot_state.redis_store import RedisStore
from linqbot_state.sqlite_store import SqliteStore
from linqbot_state.store import ScopedState, StateStore, StateStoreError, StateStoreUnavailable

__all__ = [
    "ANY_STATE",
    "DEFAULT_ASK_TIMEOUT",
    "DEFAULT_URL",
    "NO_STATE",
    "PARKED",
    "URL_SETTING",
    "AskTimeout",
    "MemoryStore",
    "RedisStore",
    "ScopedState",
    "SqliteStore",
    "StateContext",
    "StateFilter",
    "StateStore",
    "StateStoreError",
    "StateStoreUnavailable",
    "linqbot_setup",
    "linqbot_shutdown",
    "linqbot_startup",
    "linqbot_storage_backends",
    "runtime_of",
    "store_from_url",
]
