"""EVENT_TABLE coverage, leniency, legacy normalisation and envelope errors of parse_event."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, get_args

import pytest
from linq.types.webhook_event_type import WebhookEventType

from linqbot.events import (
    EVENT_TABLE,
    AccountEvent,
    ChatBackgroundEvent,
    Event,
    GroupChatUpdatedEvent,
    Ignored,
    InvalidPayload,
    MessageEvent,
    PaymentEvent,
    PhoneNumberEvent,
    PhoneNumberStatusEvent,
    TypingEvent,
    UnknownPart,
    parse_event,
    reported_chat,
)

Load = Callable[[str], dict[str, Any]]


def _parse(payload: dict[str, Any]) -> Event:
    return parse_event(json.dumps(payload))


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": "evt-1", "webhook_version": "2026-02-03", "data": data}


# Coverage


def test_table_lists_every_sdk_event_type() -> None:
    missing = set(get_args(WebhookEventType)) - EVENT_TABLE.keys()
    assert not missing, f"SDK event types without an EVENT_TABLE row: {sorted(missing)}"


def test_table_lists_no_type_the_sdk_does_not_know() -> None:
    unknown = EVENT_TABLE.keys() - set(get_args(WebhookEventType))
    assert not unknown, f"EVENT_TABLE rows the SDK does not know: {sorted(unknown)}"


def test_table_rows_are_event_classes_or_ignored() -> None:
    for event_type, entry in EVENT_TABLE.items():
        if isinstance(entry, Ignored):
            assert entry.reason, event_type
        else:
            assert issubclass(entry, Event) and entry.payload_field, event_type


@pytest.mark.parametrize("event_type", ["call.ringing", "connection.created", "brand_new.event"])
def test_ignored_and_unknown_types_parse_to_plain_event(event_type: str) -> None:
    event = _parse(_envelope(event_type, {"chat_id": "c1", "x": 1}))
    assert type(event) is Event
    assert event.data == {"chat_id": "c1", "x": 1} and event.chat_id == "c1"


def test_families_without_fixtures_parse_typed() -> None:
    typing = _parse(_envelope("chat.typing_indicator.stopped", {"chat_id": "c1"}))
    assert isinstance(typing, TypingEvent) and typing.actor is None and not typing.started
    failed = _parse(
        _envelope(
            "chat.group_icon_update_failed",
            {"chat_id": "c1", "error_code": 4001, "failed_at": "2026-05-14T16:00:00Z"},
        )
    )
    assert isinstance(failed, GroupChatUpdatedEvent) and failed.failed and failed.attribute == "icon"
    assert failed.update.error_code == 4001
    background = _parse(
        _envelope(
            "chat.background_updated",
            {"chat": {"id": "c2"}, "background": {"type": "color", "shades": ["#fff"]}},
        )
    )
    assert isinstance(background, ChatBackgroundEvent) and not background.failed
    assert background.change.chat_id == background.chat_id == "c2"
    assert background.change.background is not None and background.change.background.type == "color"
    bg_failed = _parse(_envelope("chat.background_update_failed", {"chat_id": "c3", "error_code": 5002}))
    assert isinstance(bg_failed, ChatBackgroundEvent) and bg_failed.failed and bg_failed.change.chat_id == "c3"
    line = _parse(
        _envelope("phone_number.released", {"phone_number": "+15555550100", "changed_at": "2026-05-14T16:00:00Z"})
    )
    assert isinstance(line, PhoneNumberEvent) and not line.assigned and line.line.phone_number == "+15555550100"
    payment = _parse(_envelope("payment.succeeded", {"id": "pr_1", "amount": 500, "currency": "usd", "stripe": {}}))
    assert isinstance(payment, PaymentEvent) and payment.payment.amount == 500 and payment.chat_id is None
    account = _parse(
        _envelope(
            "api_token.created",
            {
                "actor": {"type": "api"},
                "origin": "api",
                "summary": "Token created",
                "api_token": {"id": "t1"},
            },
        )
    )
    assert isinstance(account, AccountEvent) and account.activity.actor is not None
    assert account.activity.actor.type == "api" and account.activity.api_token == {"id": "t1"}


# Leniency


def test_fields_real_deliveries_omit(load_payload: Load) -> None:
    payload = load_payload("message.received")
    del payload["trace_id"]
    data = payload["data"]
    del data["chat"]["health_status"]
    del data["sender_handle"]["joined_at"]
    del data["sender_handle"]["id"]
    del data["chat"]["owner_handle"]["joined_at"]
    event = _parse(payload)
    assert isinstance(event, MessageEvent)
    assert event.trace_id is None and event.message.chat.health_status is None
    assert event.message.sender_handle == "+15555550123"


def test_lowercase_health_status_is_normalised(load_payload: Load) -> None:
    payload = load_payload("message.received")
    payload["data"]["chat"]["health_status"]["status"] = "opted_out"
    event = _parse(payload)
    assert isinstance(event, MessageEvent)
    assert event.message.chat.health_status is not None
    assert event.message.chat.health_status.status == "OPTED_OUT"


def test_unknown_part_type_and_extra_fields(load_payload: Load) -> None:
    payload = load_payload("message.received")
    payload["brand_new_envelope_key"] = 1
    data = payload["data"]
    data["parts"].append({"type": "hologram", "uri": "x"})
    data["brand_new_field"] = {"a": 1}
    data["sender_handle"]["nickname"] = "Al"
    event = _parse(payload)
    assert isinstance(event, MessageEvent)
    unknown = event.message.parts[-1]
    assert isinstance(unknown, UnknownPart) and unknown.type == "hologram"
    assert unknown.model_extra == {"uri": "x"}
    assert event.message.text == "Hi! Is my order shipping today?"
    assert event.data["brand_new_field"] == {"a": 1}  # unknown message keys stay readable in the raw data
    assert event.data["sender_handle"]["nickname"] == "Al"
    assert event.model_extra == {"brand_new_envelope_key": 1}


def test_older_health_status_names_for_line_reputation(load_payload: Load) -> None:
    payload = load_payload("phone_number.status_updated")
    data = payload["data"]
    data["previous_health_status"] = data.pop("previous_reputation")
    data["new_health_status"] = data.pop("new_reputation")
    event = _parse(payload)
    assert isinstance(event, PhoneNumberStatusEvent)
    assert (event.status_change.previous_reputation, event.status_change.new_reputation) == (
        "HEALTHY",
        "AT_RISK",
    )


def test_malformed_data_falls_back_to_plain_event(load_payload: Load) -> None:
    payload = load_payload("message.received")
    payload["data"]["direction"] = "sideways"
    event = _parse(payload)
    assert type(event) is Event
    assert event.event_type == "message.received"
    assert event.data["direction"] == "sideways"
    assert event.chat_id == "3f6c2a9e-8b1d-4e57-a0c4-91d2e7b5f812"


def test_null_or_missing_data_is_an_empty_object() -> None:
    for body in (
        {"event_type": "call.ended", "event_id": "e"},
        {"event_type": "x", "event_id": "e", "data": None},
    ):
        event = _parse(body)
        assert type(event) is Event and event.data == {} and event.chat_id is None


# Legacy 2025-01-01 payloads


def _legacy_from(current: dict[str, Any]) -> dict[str, Any]:
    """The 2025-01-01 rendering of a 2026-02-03 message payload (shape documented in linqbot.events.parse)."""
    data = current["data"]
    outbound = data["direction"] == "outbound"
    owner = data["chat"]["owner_handle"]["handle"]
    message_keys = (
        "id",
        "parts",
        "sent_at",
        "delivered_at",
        "read_at",
        "effect",
        "reply_to",
        "idempotency_key",
    )
    legacy_data = {
        "chat_id": data["chat"]["id"],
        "from": data["sender_handle"]["handle"],
        "recipient_phone": None if outbound else owner,
        "received_at": data["sent_at"],
        "is_from_me": outbound,
        "service": data["service"],
        "message": {key: data[key] for key in message_keys if key in data},
    }
    return {**current, "webhook_version": "2025-01-01", "data": legacy_data}


_COMPARED = (
    "id",
    "chat_id",
    "direction",
    "is_from_me",
    "text",
    "parts",
    "sender_handle",
    "service",
    "sent_at",
    "delivered_at",
    "read_at",
    "effect",
    "reply_to",
    "idempotency_key",
)


@pytest.mark.parametrize("stem", ["message.received", "message.sent", "message.read"])
def test_legacy_message_normalises_to_the_same_message(load_payload: Load, stem: str) -> None:
    current = load_payload(stem)
    new = _parse(current)
    old = _parse(_legacy_from(current))
    assert isinstance(new, MessageEvent) and isinstance(old, MessageEvent)
    for name in _COMPARED:
        assert getattr(old.message, name) == getattr(new.message, name), name
    assert old.chat_id == new.chat_id
    assert old.message.chat.owner_handle is not None and old.message.chat.owner_handle.is_me
    assert old.message.chat.owner_handle.handle == "+15555550100"
    assert old.message.sender is not None and old.message.sender.is_me is new.message.is_from_me
    assert old.data["received_at"] == current["data"]["sent_at"]  # the raw legacy data stays available


def test_legacy_shape_is_detected_without_the_version(load_payload: Load) -> None:
    legacy = _legacy_from(load_payload("message.received"))
    del legacy["webhook_version"]
    event = _parse(legacy)
    assert isinstance(event, MessageEvent) and event.message.direction == "inbound"


def test_legacy_flags_inside_message_and_flat_message() -> None:
    nested = _envelope(
        "message.received",
        {
            "chat_id": "c1",
            "message": {"id": "m1", "parts": [], "is_from_me": False, "from": "+1555", "service": "SMS"},
        },
    )
    event = _parse(nested)
    assert isinstance(event, MessageEvent)
    assert (event.message.sender_handle, event.message.service, event.message.direction) == (
        "+1555",
        "SMS",
        "inbound",
    )
    flat = {
        **_envelope("message.sent", {"chat_id": "c1", "id": "m2", "is_from_me": True, "from": "+1"}),
        "webhook_version": "2025-01-01",
    }
    event = _parse(flat)
    assert isinstance(event, MessageEvent) and event.message.is_from_me and event.message.id == "m2"


def test_legacy_without_direction_information_stays_untyped() -> None:
    event = _parse(_envelope("message.received", {"chat_id": "c1", "message": {"id": "m1", "parts": []}}))
    assert type(event) is Event and event.chat_id == "c1"


# Envelope errors


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "list"),
        (b'"text"', "str"),
        (b'{"event_id": "e"}', "event_type"),
        (b'{"event_type": 5, "event_id": "e"}', "event_type"),
        (b'{"event_type": "message.sent"}', "event_id"),
        (b'{"event_type": "message.sent", "event_id": 42}', "event_id"),
        (b'{"event_type": "message.sent", "event_id": null}', "event_id"),
        (b'{"event_type": "message.sent", "event_id": "e", "data": [1]}', "data"),
        (b'{"event_type": "message.sent", "event_id": "e", "created_at": "yesterday"}', "created_at"),
    ],
)
def test_invalid_payload(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload) as info:
        parse_event(raw)
    assert reason in str(info.value)
    assert info.value.reason == str(info.value)
    assert isinstance(info.value, ValueError)


def test_str_and_bytes_bodies_parse_alike(load_payload: Load) -> None:
    text = json.dumps(load_payload("reaction.added"))
    assert parse_event(text) == parse_event(text.encode())


def test_a_string_that_is_not_unicode_text_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        parse_event('{"event_type": "message.sent", "event_id": "\ud800"}')


def test_a_top_level_body_key_neither_fails_nor_replaces_the_body(load_payload: Load) -> None:
    payload = load_payload("message.received") | {"body": {"future": "field"}}
    raw = json.dumps(payload).encode()
    event = parse_event(raw)
    assert isinstance(event, MessageEvent)
    assert event.body == raw


# Events built in code


def test_an_event_built_in_code_keeps_the_data_it_was_given() -> None:
    event = Event(event_type="call.ringing", event_id="e1", data={"chat_id": "c1", "caller": "+15555550123"})
    assert event.data == {"chat_id": "c1", "caller": "+15555550123"} and event.chat_id == "c1"
    assert event.model_dump()["data"] == event.data


def test_a_dumped_event_validates_back_with_its_payload_and_data(load_payload: Load) -> None:
    parsed = parse_event(json.dumps(load_payload("message.received")))
    assert isinstance(parsed, MessageEvent)
    again = MessageEvent.model_validate(parsed.model_dump())
    assert again.message == parsed.message and again.chat_id == parsed.chat_id
    assert again.data["chat"]["id"] == parsed.data["chat"]["id"]  # from the typed payload: no body to read


# The chat an event reports


@pytest.mark.parametrize("stem", ["message.edited", "poll.updated"])
def test_typed_events_report_their_chat_without_the_raw_data(load_payload: Load, stem: str) -> None:
    payload = load_payload(stem)
    payload["data"]["chat"]["is_group"] = True
    event = parse_event(json.dumps(payload))
    chat = reported_chat(event)
    assert chat is not None and chat.is_group and chat.id == event.chat_id
    assert "data" not in event.__dict__  # answered from the typed payload; the raw data was never read


def test_a_plain_event_reports_the_chat_its_raw_data_names() -> None:
    event = _parse(_envelope("call.ringing", {"chat": {"id": "c9", "is_group": True}}))
    chat = reported_chat(event)
    assert type(event) is Event and chat is not None and chat.id == "c9" and chat.is_group
    assert reported_chat(_parse(_envelope("call.ringing", {"chat": "c9"}))) is None
    assert reported_chat(_parse(_envelope("typing.unknown", {}))) is None
