"""Turn a webhook body into a typed `Event`, leniently and in one validation pass.

Only the envelope is strict: the body must be a JSON object with string ``event_type`` and ``event_id``
(and an object or null ``data``), else `InvalidPayload`. Whatever ``data`` holds, parsing never fails on
it: an unknown or `Ignored` type, or data malformed for its type, gives a plain `Event` with the raw ``data``.

Legacy ``2025-01-01`` message payloads are rewritten into the 2026-02-03 shape before validation, so both
versions yield the same `Message`. That shape is only partly documented; we follow the SDK's notes and the
structure third-party Linq clients parse (e.g. the ``construct`` crate's Linq channel), namely::

    data = {"chat_id", "from": "<sender handle>", "recipient_phone"?, "received_at"?, "is_from_me": bool,
            "service"?, "message": {"id", "parts", "effect"?, "reply_to"?, "sent_at"?, "delivered_at"?, ...}}

``is_from_me``, ``from`` and ``service`` are also looked up inside ``message`` (and message fields at the
top of ``data`` when there is no ``message`` object). Mapping:

* ``direction`` from ``is_from_me``; left unset when that is absent, so the event stays a plain `Event`
  (guessing "inbound" could make a bot answer itself);
* ``chat = {"id": chat_id}`` plus ``owner_handle``, your line: ``from`` when outbound, else
  ``recipient_phone``;
* ``sender_handle = {"handle": from, "is_me": is_from_me, "service": service}``;
* ``received_at`` is not mapped onto ``sent_at``; it stays readable in ``Event.data``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import SchemaValidator, core_schema, from_json

from linqbot.events.coverage import EVENT_TABLE
from linqbot.events.types import Event, MessageEvent

__all__ = ["LEGACY_WEBHOOK_VERSION", "InvalidPayload", "normalise_legacy_message", "parse_event"]

LEGACY_WEBHOOK_VERSION = "2025-01-01"

_LEGACY_MESSAGE_KEYS = (
    "id",
    "parts",
    "service",
    "preferred_service",
    "sent_at",
    "delivered_at",
    "read_at",
    "effect",
    "reply_to",
    "idempotency_key",
    "reconciled_at",
    "zero_retention",
)


class InvalidPayload(ValueError):
    """The body is not a Linq webhook envelope at all; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event(raw: bytes | str) -> Event:
    """Parse a webhook body into the `Event` subclass registered for its ``event_type``."""
    try:
        body = raw.encode() if isinstance(raw, str) else raw
    except UnicodeEncodeError as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from None
    try:
        # The common case in one pass of pydantic's core over the JSON: a current-version body whose data is
        # well-formed for its type. Everything else (legacy shapes, unknown types, errors) takes the path below.
        event: Event = _TYPED.validate_json(body)
    except ValueError:
        return _parse_slowly(body)
    event.__dict__["body"] = body  # set like the fields validation filled in (setattr costs 2 % of a dispatch)
    return event


def _parse_slowly(body: bytes) -> Event:
    try:
        envelope = from_json(body, cache_strings="keys")
    except ValueError as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise InvalidPayload(f"body is a JSON {type(envelope).__name__}, not an object")
    event_type = envelope.get("event_type")
    if not isinstance(event_type, str):
        raise InvalidPayload("event_type is missing or not a string")
    if not isinstance(envelope.get("event_id"), str):
        raise InvalidPayload("event_id is missing or not a string")
    data = envelope.pop("data", None)
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise InvalidPayload(f"data is a JSON {type(data).__name__}, not an object")

    event: Event | None = None
    cls = EVENT_TABLE.get(event_type)
    if isinstance(cls, type) and cls.payload_field is not None:
        payload = data
        if cls is MessageEvent and _is_legacy_message(envelope, data):
            payload = normalise_legacy_message(data)
        try:
            event = cls.__pydantic_validator__.validate_python({**envelope, "data": payload})
        except ValidationError:
            pass  # malformed data for this type: fall back to the plain envelope below
    if event is None:
        try:
            event = Event.model_validate(envelope)
        except ValidationError as exc:
            raise InvalidPayload(f"invalid envelope: {_describe(exc)}") from None
    event.__dict__["body"] = body
    event.__dict__["data"] = data  # already read: fill Event.data's cache instead of reading the body again
    return event


def _typed_validator() -> SchemaValidator:
    """One validator for every typed event class, choosing the class by the body's ``event_type``."""
    choices: dict[str, core_schema.CoreSchema] = {
        event_type: cls.__pydantic_core_schema__
        for event_type, cls in EVENT_TABLE.items()
        if isinstance(cls, type) and cls.payload_field is not None
    }
    return SchemaValidator(core_schema.tagged_union_schema(choices, discriminator="event_type"))


_TYPED = _typed_validator()


def _is_legacy_message(body: dict[str, Any], data: dict[str, Any]) -> bool:
    if "direction" in data:
        return False
    return body.get("webhook_version") == LEGACY_WEBHOOK_VERSION or "message" in data or "is_from_me" in data


def normalise_legacy_message(data: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a 2025-01-01 message ``data`` into the 2026-02-03 ``MessageEventV2`` shape (see module doc)."""
    nested = data.get("message")
    message: dict[str, Any] = nested if isinstance(nested, dict) else data
    out = {key: message[key] for key in _LEGACY_MESSAGE_KEYS if key in message}

    is_from_me = data.get("is_from_me", message.get("is_from_me"))
    if isinstance(is_from_me, bool):
        out["direction"] = "outbound" if is_from_me else "inbound"
    service = out.get("service", data.get("service"))
    if service is not None:
        out["service"] = service

    sender = data.get("from", message.get("from"))
    chat: dict[str, Any] = {"id": data.get("chat_id", message.get("chat_id"))}
    own_line = sender if is_from_me else data.get("recipient_phone")
    if isinstance(own_line, str):
        chat["owner_handle"] = {"handle": own_line, "is_me": True, "service": service}
    out["chat"] = chat
    if isinstance(sender, str):
        out["sender_handle"] = {"handle": sender, "is_me": bool(is_from_me), "service": service}
    return out


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(loc) for loc in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors())
