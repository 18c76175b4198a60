"""Every event fixture parses into its class with the right field values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from linqbot.events import (
    EVENT_TABLE,
    ChatCreatedEvent,
    ContactCardReceivedEvent,
    Event,
    GroupChatUpdatedEvent,
    Ignored,
    LocationSharingEvent,
    MediaPart,
    MessageEditedEvent,
    MessageEvent,
    MessageFailedEvent,
    ParticipantEvent,
    PhoneNumberStatusEvent,
    PollEvent,
    ReactionEvent,
    TextPart,
    TypingEvent,
    parse_event,
)

from .conftest import fixtures_dir

CHAT = "3f6c2a9e-8b1d-4e57-a0c4-91d2e7b5f812"
GROUP = "b7e41c05-2d9a-4f3b-8e6c-5a0f9d3b2c71"
ME = "+15555550100"
ALICE = "+15555550123"


def _event_stems() -> list[str]:
    return sorted(p.stem for p in fixtures_dir().glob("*.json") if p.stem in EVENT_TABLE)


def _parse(directory: Path, stem: str) -> Any:
    return parse_event((directory / f"{stem}.json").read_bytes())


@pytest.mark.parametrize("stem", _event_stems())
def test_fixture_parses_to_its_table_class(linq_fixtures_dir: Path, stem: str) -> None:
    event = _parse(linq_fixtures_dir, stem)
    assert type(event) is EVENT_TABLE[stem]
    assert event.event_type == stem
    assert event.webhook_version == "2026-02-03"
    assert event.api_version == "v3"
    assert event.created_at is not None and event.created_at.tzinfo is not None
    assert event.trace_id is not None and len(event.trace_id) == 32
    assert event.data  # the raw data is always kept
    assert not event.model_extra  # no envelope key was left undeclared


@pytest.mark.parametrize("stem", _event_stems())
def test_fixture_keeps_its_body_and_raw_data(linq_fixtures_dir: Path, stem: str) -> None:
    raw = (linq_fixtures_dir / f"{stem}.json").read_bytes()
    event = parse_event(raw)
    assert event.body == raw  # byte for byte: what the signature covered
    assert event.data == json.loads(raw)["data"]


@pytest.mark.parametrize("stem", _event_stems())
def test_typed_chat_id_is_the_chat_the_raw_data_names(linq_fixtures_dir: Path, stem: str) -> None:
    """Typed events take their ordering key from the typed payload; it must be the chat the raw data names."""
    data = json.loads((linq_fixtures_dir / f"{stem}.json").read_bytes())["data"]
    named = data["chat"]["id"] if isinstance(data.get("chat"), dict) else data.get("chat_id")
    if stem == "chat.created":
        named = data["id"]
    assert _parse(linq_fixtures_dir, stem).chat_id == named


@pytest.mark.parametrize("stem", _event_stems())
def test_a_dumped_event_parses_back_to_the_same_event(linq_fixtures_dir: Path, stem: str) -> None:
    event = _parse(linq_fixtures_dir, stem)
    again = parse_event(event.model_dump_json(by_alias=True))
    assert type(again) is type(event)
    assert again.model_dump() == event.model_dump()  # typed payload and raw data alike


def test_fixture_set_covers_the_main_families(linq_fixtures_dir: Path) -> None:
    classes = {EVENT_TABLE[stem] for stem in _event_stems()}
    expected: set[type[Event] | Ignored] = {MessageEvent, ReactionEvent, TypingEvent, PollEvent, ChatCreatedEvent}
    assert expected <= classes


def test_message_received(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "message.received")
    assert isinstance(event, MessageEvent)
    msg = event.message
    assert event.chat_id == msg.chat_id == CHAT
    assert msg.id == "6a0d5e3c-9f2b-4c81-b7e4-2d1f8a6c3e90"
    assert msg.direction == "inbound" and not msg.is_from_me
    assert msg.text == "Hi! Is my order shipping today?"
    assert msg.sender_handle == ALICE
    assert msg.sender is not None and not msg.sender.is_me
    assert msg.chat.owner_handle is not None and msg.chat.owner_handle.handle == ME
    assert msg.chat.health_status is not None and msg.chat.health_status.status == "HEALTHY"
    assert not msg.is_group
    assert msg.service == "iMessage"
    assert msg.sent_at == datetime(2026, 5, 14, 16, 2, 10, 917000, tzinfo=UTC)
    assert msg.delivered_at is None and msg.effect is None
    assert msg.reply_to is not None
    assert (msg.reply_to.message_id, msg.reply_to.part_index) == ("f0a3c6e9-2b5d-4f18-8c7a-9e1d4b6f3a20", 0)
    assert [type(p) for p in msg.parts] == [TextPart, MediaPart]
    (media,) = msg.media
    assert media.mime_type == "image/heic" and media.size_bytes == 1843201 and media.url.endswith("IMG_0412.HEIC")
    assert msg.links == []


def test_message_sent_delivered_read(linq_fixtures_dir: Path) -> None:
    sent = _parse(linq_fixtures_dir, "message.sent").message
    assert sent.is_from_me and sent.sender_handle == ME
    assert sent.effect is not None and (sent.effect.type, sent.effect.name) == ("bubble", "gentle")
    assert sent.idempotency_key == "order-8812-ship-confirm"
    assert sent.preferred_service == "iMessage"
    text = sent.parts[0]
    assert isinstance(text, TextPart) and text.text_decorations is not None
    assert text.text_decorations[0].style == "bold" and text.text_decorations[0].range == [0, 4]
    delivered = _parse(linq_fixtures_dir, "message.delivered").message
    assert delivered.delivered_at is not None and delivered.read_at is None
    read = _parse(linq_fixtures_dir, "message.read").message
    assert read.read_at == datetime(2026, 5, 14, 16, 5, 47, 260000, tzinfo=UTC)
    assert read.id == delivered.id == sent.id


def test_message_failed(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "message.failed")
    assert isinstance(event, MessageFailedEvent)
    failure = event.failure
    assert (failure.code, failure.detail_code, failure.reason) == (4001, 41017, "Delivery failed")
    assert failure.message_id == "d8b2f5a1-6e3c-4b97-8a0d-2c7f1e9b4a65"
    assert event.chat_id == failure.chat_id == CHAT
    assert failure.failed_at is not None


def test_message_edited(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "message.edited")
    assert isinstance(event, MessageEditedEvent)
    edit = event.edit
    assert (edit.part.index, edit.part.text) == (0, "Yes! It ships this afternoon (tracking to follow).")
    assert edit.direction == "outbound" and edit.sender is not None and edit.sender.is_me
    assert edit.chat.id == event.chat_id == CHAT
    assert edit.edited_at is not None


@pytest.mark.parametrize(
    ("stem", "added", "kind", "emoji", "chat_id"),
    [
        ("reaction.added", True, "love", None, CHAT),
        ("reaction.removed", False, "custom", "\N{FIRE}", CHAT),
        ("poll.reaction.added", True, "like", None, GROUP),
    ],
)
def test_reactions(linq_fixtures_dir: Path, stem: str, added: bool, kind: str, emoji: str | None, chat_id: str) -> None:
    event = _parse(linq_fixtures_dir, stem)
    assert isinstance(event, ReactionEvent)
    assert event.added is added
    reaction = event.reaction
    assert (reaction.reaction_type, reaction.custom_emoji) == (kind, emoji)
    assert not reaction.is_from_me and reaction.part_index == 0
    assert reaction.from_handle is not None and reaction.from_handle.handle.startswith("+1555555")
    assert event.chat_id == reaction.chat_id == chat_id
    assert reaction.reaction_id and reaction.reacted_at is not None


@pytest.mark.parametrize(
    ("stem", "started"), [("chat.typing_indicator.started", True), ("chat.typing_indicator.stopped", False)]
)
def test_typing(linq_fixtures_dir: Path, stem: str, started: bool) -> None:
    event = _parse(linq_fixtures_dir, stem)
    assert isinstance(event, TypingEvent)
    assert event.started is started
    assert event.chat_id == CHAT
    assert event.actor is not None and event.actor.handle == ALICE and not event.actor.is_me


def test_participants(linq_fixtures_dir: Path) -> None:
    added = _parse(linq_fixtures_dir, "participant.added")
    removed = _parse(linq_fixtures_dir, "participant.removed")
    assert isinstance(added, ParticipantEvent) and isinstance(removed, ParticipantEvent)
    assert added.added and not removed.added
    assert added.membership.handle == removed.membership.handle == "+15555550177"
    assert added.membership.at == datetime(2026, 5, 14, 16, 40, 2, tzinfo=UTC)
    assert removed.membership.at == datetime(2026, 5, 14, 17, 12, 45, tzinfo=UTC)
    assert removed.membership.participant is not None and removed.membership.participant.status == "removed"
    assert added.chat_id == GROUP


def test_chat_created(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "chat.created")
    assert isinstance(event, ChatCreatedEvent)
    chat = event.chat
    assert event.chat_id == chat.id == GROUP
    assert chat.is_group and chat.display_name == "+15555550123, +15555550142"
    assert [h.handle for h in chat.handles] == [ME, ALICE, "+15555550142"]
    assert [h.is_me for h in chat.handles] == [True, False, False]
    assert chat.health_status is not None and chat.health_status.status == "HEALTHY"


def test_group_name_updated(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "chat.group_name_updated")
    assert isinstance(event, GroupChatUpdatedEvent)
    assert not event.failed and event.attribute == "name"
    update = event.update
    assert (update.old_value, update.new_value) == (None, "Weekend Trip Planning")
    assert update.changed_by is not None and update.changed_by.handle == "+15555550142"
    assert event.chat_id == update.chat_id == GROUP


def test_location_sharing(linq_fixtures_dir: Path) -> None:
    started = _parse(linq_fixtures_dir, "location.sharing.started")
    stopped = _parse(linq_fixtures_dir, "location.sharing.stopped")
    assert isinstance(started, LocationSharingEvent) and isinstance(stopped, LocationSharingEvent)
    assert started.started and not stopped.started
    assert started.sharing.shared_by == ALICE and started.sharing.shared_with == ME
    assert started.sharing.ends_at is not None and started.sharing.ended_at is None
    assert stopped.sharing.ended_at is not None
    assert started.chat_id == CHAT


def test_phone_number_status(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "phone_number.status_updated")
    assert isinstance(event, PhoneNumberStatusEvent)
    change = event.status_change
    assert change.phone_number == ME
    assert (change.previous_status, change.new_status) == ("ACTIVE", "ACTIVE")
    assert (change.previous_reputation, change.new_reputation) == ("HEALTHY", "AT_RISK")
    assert event.chat_id is None


def test_contact_card_received(linq_fixtures_dir: Path) -> None:
    event = _parse(linq_fixtures_dir, "contact_card.received")
    assert isinstance(event, ContactCardReceivedEvent)
    card = event.card
    assert (card.first_name, card.last_name, card.sender_handle, card.owner_handle) == (
        "Alice",
        "Nguyen",
        ALICE,
        ME,
    )
    assert card.media_url is not None and card.media_url.endswith("contact.jpg")
    assert event.chat_id is None


def test_polls(linq_fixtures_dir: Path) -> None:
    sent = _parse(linq_fixtures_dir, "poll.sent")
    assert isinstance(sent, PollEvent)
    assert sent.chat_id == GROUP and sent.activity.direction == "outbound"
    assert sent.activity.poll is not None
    assert [o.text for o in sent.activity.poll.options] == ["Saturday", "Sunday"]
    vote = _parse(linq_fixtures_dir, "poll.vote.added").activity
    assert vote.option_id == "opt_1f7c3a9e" and vote.sender is not None and vote.sender.handle == ALICE
    updated = _parse(linq_fixtures_dir, "poll.updated").activity
    (option,) = updated.added_options
    assert option.text == "Monday" and option.creator is not None and option.creator.handle == ALICE
    failed = _parse(linq_fixtures_dir, "poll.failed").activity
    assert failed.error is not None and failed.error.code == 4001 and failed.sender is None
    received = _parse(linq_fixtures_dir, "poll.received").activity
    assert received.received_at is not None and received.direction == "inbound"
