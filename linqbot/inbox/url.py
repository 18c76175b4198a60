"""Pick the inbox store from a URL: ``memory://``, ``sqlite:///relative.db`` / ``sqlite:////abs.db``, ``redis://``.

Store options ride in the query string and are checked here, so a typo fails at start-up, not at the first event:
``retention`` (seconds an event id is remembered, all stores), ``synchronous`` (``normal``, the default, or
``full``; SQLite), ``lock_ttl`` and ``prefix`` (Redis; other query parameters go to the Redis client).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from linqbot.inbox.store import DEFAULT_RETENTION, InboxStore, MemoryStore
from linqbot.local_files import local_file


def default_file_url() -> str:
    """Where ``linqbot run`` keeps its inbox unless told otherwise: ``.linqbot/inbox.db`` (or in ``LINQBOT_HOME``)."""
    return f"sqlite:///{local_file('inbox.db')}"


def _seconds(options: dict[str, str], name: str, default: float) -> float:
    raw = options.pop(name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"inbox URL option {name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"inbox URL option {name} must be positive, got {raw!r}")
    return value


def store_from_url(url: str) -> InboxStore:
    """The store ``url`` names; `ValueError` naming what is wrong otherwise."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    retention = _seconds(options, "retention", DEFAULT_RETENTION)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        store: InboxStore = MemoryStore(retention=retention)
    elif scheme == "sqlite":
        from linqbot.inbox.sqlite import SQLiteStore

        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise ValueError(f"an SQLite inbox URL looks like sqlite:///inbox.db or sqlite:////abs/inbox.db: {url!r}")
        synchronous = options.pop("synchronous", "normal").lower()
        if synchronous not in ("full", "normal"):
            raise ValueError(f"inbox URL option synchronous must be full or normal, got {synchronous!r}")
        store = SQLiteStore(path, retention=retention, synchronous="full" if synchronous == "full" else "normal")
    elif scheme in ("redis", "rediss", "unix"):
        try:
            from linqbot.inbox.redis_store import DEFAULT_LOCK_TTL, DEFAULT_PREFIX, RedisStore
        except ImportError:
            raise ValueError("a Redis inbox needs the redis package: pip install 'linqbot[redis]'") from None
        lock_ttl = _seconds(options, "lock_ttl", DEFAULT_LOCK_TTL)
        prefix = options.pop("prefix", DEFAULT_PREFIX)
        client_url = urlunsplit(parts._replace(query=urlencode(options)))
        return RedisStore(client_url, retention=retention, lock_ttl=lock_ttl, prefix=prefix)
    else:
        raise ValueError(f"unknown inbox URL scheme in {url!r}: use memory://, sqlite:///FILE or redis://HOST")
    if options:
        raise ValueError(f"unknown inbox URL option(s) for {scheme}: {', '.join(sorted(options))}")
    return store
