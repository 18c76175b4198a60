"""Between accepting an event and dispatching it: deduplication and per-chat ordered queues."""

from linqbot.inbox.dedup import Deduplicator, MemoryDeduplicator
from linqbot.inbox.inbox import Inbox
from linqbot.inbox.queue import ChatQueues

__all__ = ["ChatQueues", "Deduplicator", "Inbox", "MemoryDeduplicator"]
