"""Choosing a store from a URL: ``memory://``, ``sqlite:///state.db``, ``redis://host:6379/0`` — or any scheme a
plugin adds through the ``linqbot_storage_backends`` hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from linqbot.local_files import FOLDER, local_file
from linqbot_state.memory_store import MemoryStore
from linqbot_state.redis_store import RedisStore
from linqbot_state.sqlite_store import SqliteStore
from linqbot_state.store import Clock, StateStore, StateStoreError

URL_SETTING = "LINQBOT_STATE_URL"
FILE_NAME = "state.db"
DEFAULT_URL = f"sqlite:///{FOLDER}/{FILE_NAME}"
"""Where ``linqbot run`` keeps state unless ``LINQBOT_STATE_URL`` says otherwise (relative to the working folder).
`default_url` gives it, or the file an earlier version kept (`FORMER_FILE`) while that exists."""
FORMER_FILE = "linqbot-state.db"
"""Where linqbot kept state before it moved into ``.linqbot/``; still used while it exists."""


def default_url() -> str:
    """`DEFAULT_URL`, its folder created (the store only checks a folder exists) — or the file an earlier linqbot
    kept, while it exists."""
    path = Path(local_file(FILE_NAME, former=FORMER_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.as_posix()}"


Factory = Callable[..., StateStore]


def memory_from_url(url: str, *, clock: Clock = time.time) -> MemoryStore:
    if url.rstrip("/") != "memory:":
        raise StateStoreError(f"the memory state URL takes no location: use memory://, got {url!r}")
    return MemoryStore(clock=clock)


BUILT_IN: dict[str, Factory] = {
    "memory": memory_from_url,
    "sqlite": SqliteStore.from_url,
    "redis": RedisStore.from_url,
    "rediss": RedisStore.from_url,
    "unix": RedisStore.from_url,
}


def store_from_url(url: str, backends: Mapping[str, Factory] | None = None, **options: Any) -> StateStore:
    """Build the store ``url`` names; ``backends`` maps URL schemes to factories (default: the built-in ones)."""
    table = BUILT_IN if backends is None else backends
    scheme, sep, _ = url.partition("://")
    factory = table.get(scheme.lower()) if sep else None
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(table))
        shown = f"{scheme}://" if sep else "a URL without a scheme"
        raise StateStoreError(f"{URL_SETTING} uses {shown}, which no state backend handles; known: {known}")
    store = factory(url, **options)
    if not isinstance(store, StateStore):
        raise StateStoreError(f"the {scheme}:// backend returned {type(store).__name__}, not a StateStore")
    return store
