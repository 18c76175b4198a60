"""Validation of the request ``message`` object (MessageContent) and its conversion to stored parts.

Errors follow the API table: 1001 missing, 1004 bad parts, 1005 bad values, 1008 bad iMessage app,
2003/2007 unknown or not-yet-uploaded attachment.
"""

import itertools
import mimetypes
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from linqbot.emulator.errors import ApiError, bad_parts, invalid, missing
from linqbot.emulator.state import Attachment, new_id

MAX_PARTS = 100
MAX_URL_MEDIA = 40
TEAM_ID = re.compile(r"[A-Z0-9]{10}")
STYLES = {"bold", "italic", "strikethrough", "underline"}
ANIMATIONS = {"big", "small", "shake", "nod", "explode", "ripple", "bloom", "jitter"}
SERVICES = {"iMessage", "SMS", "RCS"}
LAYOUT_KEYS = (
    "caption",
    "subcaption",
    "trailing_caption",
    "trailing_subcaption",
    "image_url",
    "image_title",
    "image_subtitle",
)

AttachmentLookup = Callable[[str], Attachment]
FileUrl = Callable[[Attachment], str]


@dataclass
class Content:
    parts: list[dict[str, Any]]
    effect: dict[str, Any] | None = None
    reply_to: dict[str, Any] | None = None
    preferred_service: str | None = None
    idempotency_key: str | None = None
    is_experience: bool = False


def is_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise missing(f"{where}.{key}")
        return None
    if not isinstance(value, str):
        raise invalid(f"{where}.{key} must be a string")
    return value


def _int_range(value: object, where: str) -> list[int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)
    ):
        raise bad_parts(f"{where} must be [start, end] with non-negative integers")
    return [int(value[0]), int(value[1])]


def _text_part(raw: dict[str, Any], where: str) -> dict[str, Any]:
    value = _str(raw, "value", where)
    if not value:
        raise bad_parts(f"{where}.value must not be empty")
    part: dict[str, Any] = {"type": "text", "value": value}
    decorations = raw.get("text_decorations")
    if decorations is not None:
        if not isinstance(decorations, list):
            raise bad_parts(f"{where}.text_decorations must be a list")
        rendered = []
        for i, deco in enumerate(decorations):
            if not isinstance(deco, dict):
                raise bad_parts(f"{where}.text_decorations[{i}] must be an object")
            style, animation = deco.get("style"), deco.get("animation")
            if (style is None) == (animation is None):
                raise bad_parts(f"{where}.text_decorations[{i}] needs exactly one of style, animation")
            if (style is not None and style not in STYLES) or (animation is not None and animation not in ANIMATIONS):
                raise bad_parts(f"{where}.text_decorations[{i}] has an unknown style/animation")
            entry: dict[str, Any] = {"range": _int_range(deco.get("range"), f"{where}.text_decorations[{i}].range")}
            entry["style" if style is not None else "animation"] = style if style is not None else animation
            rendered.append(entry)
        part["text_decorations"] = rendered
    mention = raw.get("mention")
    if mention is not None:
        if not isinstance(mention, str):
            raise bad_parts(f"{where}.mention must be a string")
        mention_range = raw.get("mention_range")
        span = _int_range(mention_range, f"{where}.mention_range") if mention_range is not None else [0, len(value)]
        part["mention"] = mention
        part["mention_range"] = span
        part["mentions"] = [{"handle": mention, "is_me": False, "range": span}]
    return part


def _media_part(raw: dict[str, Any], where: str, lookup: AttachmentLookup, file_url: FileUrl) -> dict[str, Any]:
    url, attachment_id = raw.get("url"), raw.get("attachment_id")
    if (url is None) == (attachment_id is None):
        raise bad_parts(f"{where} needs exactly one of url, attachment_id")
    if attachment_id is not None:
        if not isinstance(attachment_id, str):
            raise bad_parts(f"{where}.attachment_id must be a string")
        attachment = lookup(attachment_id)
        return {
            "type": "media",
            "id": attachment.id,
            "filename": attachment.filename,
            "mime_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "url": file_url(attachment),
        }
    if not is_url(url):
        raise bad_parts(f"{where}.url must be an http(s) URL")
    assert isinstance(url, str)
    filename = posixpath.basename(urlparse(url).path) or "file"
    return {
        "type": "media",
        "id": new_id(),
        "filename": filename,
        "mime_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        "size_bytes": 0,
        "url": url,
    }


def _app_part(raw: dict[str, Any], where: str) -> dict[str, Any]:
    app, layout = raw.get("app"), raw.get("layout")
    if not isinstance(app, dict) or not isinstance(layout, dict):
        raise ApiError(400, 1008, f"{where} needs app and layout objects")
    name, team_id, bundle_id = app.get("name"), app.get("team_id"), app.get("bundle_id")
    if not isinstance(name, str) or not name:
        raise ApiError(400, 1008, f"{where}.app.name is required")
    if not isinstance(team_id, str) or TEAM_ID.fullmatch(team_id) is None:
        raise ApiError(400, 1008, f"{where}.app.team_id must be 10 uppercase alphanumerics")
    if not isinstance(bundle_id, str) or not bundle_id:
        raise ApiError(400, 1008, f"{where}.app.bundle_id is required")
    rendered_app: dict[str, Any] = {"bundle_id": bundle_id, "name": name, "team_id": team_id}
    if isinstance(app.get("app_store_id"), int):
        rendered_app["app_store_id"] = app["app_store_id"]
    rendered_layout = {k: v for k, v in layout.items() if k in LAYOUT_KEYS and isinstance(v, str)}
    url = raw.get("url")
    part: dict[str, Any] = {
        "type": "imessage_app",
        "app": rendered_app,
        "layout": rendered_layout,
        "url": url if isinstance(url, str) else "",
    }
    if isinstance(raw.get("fallback_text"), str):
        part["fallback_text"] = raw["fallback_text"]
    return part


def parse_parts(raw_parts: object, lookup: AttachmentLookup, file_url: FileUrl) -> list[dict[str, Any]]:
    if not isinstance(raw_parts, list):
        raise bad_parts("message.parts must be a list")
    if not raw_parts:
        raise bad_parts("message.parts must not be empty")
    if len(raw_parts) > MAX_PARTS:
        raise bad_parts(f"at most {MAX_PARTS} parts per message")
    parts: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_parts):
        where = f"message.parts[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise bad_parts(f"{where} must be an object with a type")
        kind = raw["type"]
        if kind == "text":
            parts.append(_text_part(raw, where))
        elif kind == "media":
            parts.append(_media_part(raw, where, lookup, file_url))
        elif kind in ("link", "app_clip"):
            if not is_url(raw.get("value")):
                raise bad_parts(f"{where}.value must be an http(s) URL")
            parts.append({"type": kind, "value": raw["value"]})
        elif kind == "imessage_app":
            parts.append(_app_part(raw, where))
        else:
            raise bad_parts(f"{where}: unknown part type {kind!r}")
    kinds = [p["type"] for p in parts]
    if any(k in ("link", "app_clip", "imessage_app") for k in kinds) and len(parts) > 1:
        raise bad_parts("link, app_clip and imessage_app parts must be the only part of a message")
    if any(a == b == "text" for a, b in itertools.pairwise(kinds)):
        raise bad_parts("two text parts may not be adjacent")
    if sum(1 for p in raw_parts if isinstance(p, dict) and p.get("url") and p.get("type") == "media") > MAX_URL_MEDIA:
        raise bad_parts(f"at most {MAX_URL_MEDIA} media parts with a url")
    return parts


def parse_content(raw: object, lookup: AttachmentLookup, file_url: FileUrl) -> Content:
    """Validate a request ``message`` object; raises ApiError with the code the API would use."""
    if raw is None:
        raise missing("message")
    if not isinstance(raw, dict):
        raise invalid("message must be an object")
    has_parts, experience = raw.get("parts") is not None, raw.get("experience")
    if has_parts and experience is not None:
        raise bad_parts("a message carries parts or an experience, never both")
    if not has_parts and experience is None:
        raise missing("message.parts")
    if experience is not None:
        if not isinstance(experience, dict):
            raise invalid("message.experience must be an object")
        _str(experience, "name", "message.experience")
        _str(experience, "action", "message.experience")
        if experience.get("params") is not None and not isinstance(experience["params"], dict):
            raise invalid("message.experience.params must be an object")
        content = Content(parts=[], is_experience=True)
    else:
        content = Content(parts=parse_parts(raw["parts"], lookup, file_url))
    effect = raw.get("effect")
    if effect is not None:
        if not isinstance(effect, dict) or effect.get("type") not in ("screen", "bubble"):
            raise invalid("message.effect.type must be screen or bubble")
        name = _str(effect, "name", "message.effect")
        content.effect = {"type": effect["type"], "name": name}
    reply_to = raw.get("reply_to")
    if reply_to is not None:
        if not isinstance(reply_to, dict):
            raise invalid("message.reply_to must be an object")
        message_id = _str(reply_to, "message_id", "message.reply_to")
        part_index = reply_to.get("part_index", 0)
        if not isinstance(part_index, int) or isinstance(part_index, bool) or part_index < 0:
            raise invalid("message.reply_to.part_index must be a non-negative integer")
        content.reply_to = {"message_id": message_id, "part_index": part_index}
    service = raw.get("preferred_service")
    if service is not None and service not in SERVICES:
        raise invalid("message.preferred_service must be iMessage, SMS or RCS")
    content.preferred_service = service
    content.idempotency_key = _str(raw, "idempotency_key", "message", required=False)
    return content
