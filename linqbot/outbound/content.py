"""Build the ``message`` object of a send from plain Python values.

Linq rejects malformed content with a 400 after a network round trip; checking the same rules here
gives the bot author a clear ``ValueError`` at the line that built the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["BUBBLE_EFFECTS", "MAX_PARTS", "MAX_URL_MEDIA_PARTS", "build_message"]

MAX_PARTS = 100
MAX_URL_MEDIA_PARTS = 40
BUBBLE_EFFECTS = frozenset({"slam", "loud", "gentle", "invisible"})
_SOLO_PART_TYPES = frozenset({"link", "app_clip", "imessage_app"})
_SERVICES = {"imessage": "iMessage", "rcs": "RCS", "sms": "SMS"}
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)


def build_message(
    text_or_parts: str | Sequence[str | dict[str, Any]] | None = None,
    *,
    media: str | Sequence[str] | None = None,
    link: str | None = None,
    effect: str | dict[str, Any] | None = None,
    reply_to: str | dict[str, Any] | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """Return a ``MessageContentParam`` dict: text parts first, then media, or a lone link.

    Adjacent text parts, which Linq rejects, are merged with a newline instead.
    """
    parts = _merge_text([_as_part(p) for p in _as_list(text_or_parts)])
    parts += [_media_part(ref) for ref in _as_list(media)]
    if link is not None:
        parts.append({"type": "link", "value": link})
    _validate_parts(parts)

    message: dict[str, Any] = {"parts": parts}
    if effect is not None:
        message["effect"] = _effect(effect)
    if reply_to is not None:
        message["reply_to"] = _reply_to(reply_to)
    if service is not None:
        message["preferred_service"] = _service(service)
    return message


def _as_list(value: str | Sequence[Any] | None) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _as_part(item: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        if not item:
            raise ValueError("text parts must not be empty")
        return {"type": "text", "value": item}
    if not isinstance(item, dict) or "type" not in item:
        raise ValueError(f"a part must be a str or a dict with a 'type', got {item!r}")
    return dict(item)


def _is_plain_text(part: dict[str, Any]) -> bool:
    return part["type"] == "text" and set(part) == {"type", "value"}


def _merge_text(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if previous is not None and previous["type"] == "text" and part["type"] == "text":
            if not (_is_plain_text(previous) and _is_plain_text(part)):
                raise ValueError(
                    "two adjacent text parts with decorations or mentions cannot be merged; put them in one part"
                )
            previous["value"] = f"{previous['value']}\n{part['value']}"
        else:
            merged.append(part)
    return merged


def _media_part(ref: str) -> dict[str, Any]:
    if ref.startswith(("https://", "http://")):
        return {"type": "media", "url": ref}
    if _UUID.match(ref):
        return {"type": "media", "attachment_id": ref}
    raise ValueError(f"media must be an http(s) URL or an attachment id, got {ref!r}")


def _validate_parts(parts: list[dict[str, Any]]) -> None:
    if not parts:
        raise ValueError("a message needs text, media or a link")
    if len(parts) > MAX_PARTS:
        raise ValueError(f"a message may have at most {MAX_PARTS} parts, got {len(parts)}")
    solo = [p["type"] for p in parts if p["type"] in _SOLO_PART_TYPES]
    if solo and len(parts) > 1:
        raise ValueError(f"a {solo[0]} part must be the only part of its message")
    url_media = sum(1 for p in parts if p["type"] == "media" and "url" in p)
    if url_media > MAX_URL_MEDIA_PARTS:
        raise ValueError(
            f"at most {MAX_URL_MEDIA_PARTS} media parts may use a URL (got {url_media}); "
            "upload the rest and send them by attachment id"
        )


def _effect(effect: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(effect, dict):
        if "name" not in effect:
            raise ValueError(f"an effect needs a 'name', got {effect!r}")
        return {"type": "bubble" if effect["name"] in BUBBLE_EFFECTS else "screen", **effect}
    return {"type": "bubble" if effect in BUBBLE_EFFECTS else "screen", "name": effect}


def _reply_to(reply_to: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(reply_to, str):
        return {"message_id": reply_to}
    if "message_id" not in reply_to:
        raise ValueError(f"reply_to needs a 'message_id', got {reply_to!r}")
    return dict(reply_to)


def _service(service: str) -> str:
    try:
        return _SERVICES[service.lower()]
    except KeyError:
        raise ValueError(f"service must be one of iMessage, RCS, SMS; got {service!r}") from None
