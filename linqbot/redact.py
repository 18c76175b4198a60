"""Keep secrets and full phone numbers out of logs: everything that logs a person or a key goes through here."""

from __future__ import annotations

from urllib.parse import urlsplit


def mask_handle(handle: str | None) -> str:
    """Enough of a handle to tell people apart in a log line, never the whole number or address."""
    if not handle:
        return "-"
    if "@" in handle:
        name, _, domain = handle.partition("@")
        return f"{name[:1]}***@{domain}"
    return f"{handle[:2]}***{handle[-2:]}" if len(handle) > 6 else "***"


def mask_secret(secret: str | None) -> str:
    """A recognisable stub of a key or signing secret (its kind and last 2 characters)."""
    if not secret:
        return "-"
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    return f"{prefix}…{secret[-2:]}"


def mask_url(url: str) -> str:
    """A URL without what may carry a credential (user, password, query, fragment): scheme, host, port and path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
