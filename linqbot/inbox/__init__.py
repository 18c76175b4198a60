"""Between accepting an event and dispatching it: durable storage, dedup, per-chat ordered lanes, leadership.

Stores: `MemoryStore` (tests), `SQLiteStore` (one process, the default for ``linqbot run``), and
``linqbot.inbox.redis_store.RedisStore`` (many processes; needs ``linqbot[redis]``). See docs/durability.md.
"""

from linqbot.inbox.inbox import Inbox
from linqbot.inbox.status import StatusTracker
from linqbot.inbox.store import (
    DEFAULT_RETENTION,
    InboxStore,
    InboxUnavailable,
    Leadership,
    MemoryStore,
    SoleLeadership,
    StoredEvent,
)
from linqbot.inbox.url import default_file_url, store_from_url

__all__ = [
    "DEFAULT_RETENTION",
    "Inbox",
    "InboxStore",
    "InboxUnavailable",
    "Leadership",
    "MemoryStore",
    "SoleLeadership",
    "StatusTracker",
    "StoredEvent",
    "default_file_url",
    "store_from_url",
]
