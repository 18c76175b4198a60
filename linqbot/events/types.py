"""Typed webhook events: the envelope (`Event`) and one subclass per event family.

Each subclass carries its ``data`` validated into one typed attribute named by its ``payload_field``
(``MessageEvent.message``, ``ReactionEvent.reaction``, ...). ``Event.body`` keeps the webhook body and
``Event.data`` the raw ``data`` object read from it, so nothing a typed model does not declare is ever lost.
Families sharing one class (``reaction.added`` and ``reaction.removed``, ...) are told apart by a boolean
property over ``event_type``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    ValidationError,
    computed_field,
)
from pydantic_core import from_json

from linqbot.events.models import Chat, ChatRef, Direction, Handle, LinqModel, Message

__all__ = [
    "AccountActivity",
    "AccountEvent",
    "Actor",
    "ChatBackground",
    "ChatBackgroundChange",
    "ChatBackgroundEvent",
    "ChatCreatedEvent",
    "ContactCard",
    "ContactCardReceivedEvent",
    "EditedPart",
    "Event",
    "GroupChatUpdate",
    "GroupChatUpdatedEvent",
    "LocationShare",
    "LocationSharingEvent",
    "Membership",
    "MessageEdit",
    "MessageEditedEvent",
    "MessageEvent",
    "MessageFailedEvent",
    "MessageFailure",
    "ParticipantEvent",
    "PaymentEvent",
    "PaymentRequest",
    "PhoneNumberChange",
    "PhoneNumberEvent",
    "PhoneNumberStatusChange",
    "PhoneNumberStatusEvent",
    "Poll",
    "PollActivity",
    "PollError",
    "PollEvent",
    "PollOption",
    "PollVoter",
    "Reaction",
    "ReactionEvent",
    "Sticker",
    "TypingEvent",
    "TypingIndicator",
    "reported_chat",
]


class Event(BaseModel):
    """The webhook envelope; also what unknown, ignored or malformed-data events parse to.

    A typed subclass validates ``data`` straight into its payload attribute (the JSON key ``data`` is that
    attribute's alias); the raw object stays readable as ``data``, read from ``body`` when first asked for.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    payload_field: ClassVar[str | None] = None
    """Name of the attribute holding the typed ``data``; None for the plain envelope."""

    event_type: str
    event_id: str
    created_at: datetime | None = None
    trace_id: str | None = None
    partner_id: str | None = None
    api_version: str | None = None
    webhook_version: str | None = None
    body: Annotated[bytes, SkipValidation] = Field(default=b"", exclude=True, repr=False)
    """The webhook body this event was parsed from, byte for byte (what the signature covered); ``parse_event``
    sets it, so a top-level ``body`` key in a delivery can never fail validation (it stays readable here)."""

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def data(self) -> dict[str, Any]:
        """The raw ``data`` object (``{}`` when absent), with every key Linq sent, typed or not.

        Read from ``body`` on first use. An event built in code has the ``data`` it was given, or else its typed
        payload as a dict.
        """
        if self.body:
            data = from_json(self.body).get("data")
        else:
            data = self.model_extra.pop("data", None) if self.model_extra else None
            if data is None and self.payload_field is not None:
                payload: BaseModel = getattr(self, self.payload_field)
                data = payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data if isinstance(data, dict) else {}

    @property
    def chat_id(self) -> str | None:
        """Per-chat ordering key: ``data.chat.id`` or ``data.chat_id``; None for account-level events."""
        data = self.data
        chat = data.get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else data.get("chat_id")
        return chat_id if isinstance(chat_id, str) else None


# Messages


class MessageEvent(Event):
    """message.sent / received / delivered / read (both payload versions normalise to this)."""

    payload_field: ClassVar[str | None] = "message"
    message: Message = Field(validation_alias="data")

    @property
    def chat_id(self) -> str:
        return self.message.chat.id


class MessageFailure(LinqModel):
    code: int
    failed_at: datetime | None = None
    chat_id: str | None = None
    message_id: str | None = None
    reason: str | None = None
    detail_code: int | None = None
    """Opaque diagnostics: log it, never branch on it."""
    service: str | None = None
    preferred_service: str | None = None


class MessageFailedEvent(Event):
    payload_field: ClassVar[str | None] = "failure"
    failure: MessageFailure = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.failure.chat_id


class EditedPart(LinqModel):
    index: int
    text: str


class MessageEdit(LinqModel):
    id: str
    chat: ChatRef
    direction: Direction
    part: EditedPart
    edited_at: datetime | None = None
    sender: Handle | None = Field(default=None, alias="sender_handle")
    zero_retention: bool = False


class MessageEditedEvent(Event):
    """message.edited (2026-02-03 only): one part's new text."""

    payload_field: ClassVar[str | None] = "edit"
    edit: MessageEdit = Field(validation_alias="data")

    @property
    def chat_id(self) -> str:
        return self.edit.chat.id


# Reactions and typing


class Sticker(LinqModel):
    url: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None


class Reaction(LinqModel):
    """A tapback, custom emoji or sticker.

    ``from_handle`` is who reacted; the deprecated ``from`` string stays available as an extra.
    """

    reaction_type: str
    is_from_me: bool = False
    custom_emoji: str | None = None
    sticker: Sticker | None = None
    message_id: str | None = None
    part_index: int | None = None
    chat_id: str | None = None
    from_handle: Handle | None = None
    reacted_at: datetime | None = None
    reaction_id: str | None = None
    service: str | None = None


class ReactionEvent(Event):
    """reaction.added / reaction.removed / poll.reaction.added."""

    payload_field: ClassVar[str | None] = "reaction"
    reaction: Reaction = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.reaction.chat_id

    @property
    def added(self) -> bool:
        return self.event_type != "reaction.removed"


class TypingIndicator(LinqModel):
    chat_id: str
    actor: Handle | None = Field(default=None, alias="actor_handle")


class TypingEvent(Event):
    """chat.typing_indicator.started / .stopped."""

    payload_field: ClassVar[str | None] = "typing"
    typing: TypingIndicator = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.typing.chat_id

    @property
    def actor(self) -> Handle | None:
        return self.typing.actor

    @property
    def started(self) -> bool:
        return self.event_type == "chat.typing_indicator.started"


# Chats and participants


class Membership(LinqModel):
    """A participant joining or leaving; ``at`` is ``added_at`` or ``removed_at``."""

    handle: str
    participant: Handle | None = None
    chat_id: str | None = None
    at: datetime | None = Field(default=None, validation_alias=AliasChoices("at", "added_at", "removed_at"))


class ParticipantEvent(Event):
    """participant.added / participant.removed (also fires when your own line leaves a group)."""

    payload_field: ClassVar[str | None] = "membership"
    membership: Membership = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.membership.chat_id

    @property
    def added(self) -> bool:
        return self.event_type == "participant.added"


class ChatCreatedEvent(Event):
    payload_field: ClassVar[str | None] = "chat"
    chat: Chat = Field(validation_alias="data")

    @property
    def chat_id(self) -> str:
        """The new chat's id (``data.id``), so it orders with the chat's later events."""
        return self.chat.id


class GroupChatUpdate(LinqModel):
    """A group name/icon change or its failure.

    ``old_value``/``new_value`` are the name or icon URL (None: none/removed); failures set ``error_code``.
    """

    chat_id: str
    updated_at: datetime | None = None
    changed_by: Handle | None = Field(default=None, alias="changed_by_handle")
    old_value: str | None = None
    new_value: str | None = None
    error_code: int | None = None
    failed_at: datetime | None = None


class GroupChatUpdatedEvent(Event):
    """chat.group_name_updated / group_icon_updated and their ``*_update_failed`` twins."""

    payload_field: ClassVar[str | None] = "update"
    update: GroupChatUpdate = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.update.chat_id

    @property
    def failed(self) -> bool:
        return self.event_type.endswith("_failed")

    @property
    def attribute(self) -> Literal["name", "icon"]:
        return "icon" if "icon" in self.event_type else "name"


class ChatBackground(LinqModel):
    type: str
    variant: str | None = None
    shades: list[str] | None = None
    style: str | None = None
    image_url: str | None = None


class ChatBackgroundChange(LinqModel):
    """A chat background change (``chat``, ``background``) or its failure (``chat_id``, ``error_code``)."""

    chat_id: str = Field(validation_alias=AliasChoices(AliasPath("chat", "id"), "chat_id"))
    chat: ChatRef | None = None
    actor: Handle | None = Field(default=None, alias="actor_handle")
    background: ChatBackground | None = None
    error_code: int | None = None
    failed_at: datetime | None = None


class ChatBackgroundEvent(Event):
    """chat.background_updated / chat.background_update_failed."""

    payload_field: ClassVar[str | None] = "change"
    change: ChatBackgroundChange = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.change.chat_id

    @property
    def failed(self) -> bool:
        return self.event_type.endswith("_failed")


class LocationShare(LinqModel):
    """``shared_by`` may be an Apple-ID email when shared from Find My."""

    shared_by: str
    shared_with: str
    chat_id: str | None = None
    began_at: datetime | None = None
    ends_at: datetime | None = None
    ended_at: datetime | None = None


class LocationSharingEvent(Event):
    """location.sharing.started / .stopped (no coordinates: poll the chat's location endpoint)."""

    payload_field: ClassVar[str | None] = "sharing"
    sharing: LocationShare = Field(validation_alias="data")

    @property
    def chat_id(self) -> str | None:
        return self.sharing.chat_id

    @property
    def started(self) -> bool:
        return self.event_type == "location.sharing.started"


# Lines and contact cards


class PhoneNumberStatusChange(LinqModel):
    """Line status/reputation transition; the older ``*_health_status`` names are accepted for reputation."""

    phone_number: str
    changed_at: datetime | None = None
    previous_status: str | None = None
    new_status: str | None = None
    previous_reputation: str | None = Field(
        default=None, validation_alias=AliasChoices("previous_reputation", "previous_health_status")
    )
    new_reputation: str | None = Field(
        default=None, validation_alias=AliasChoices("new_reputation", "new_health_status")
    )


class PhoneNumberStatusEvent(Event):
    payload_field: ClassVar[str | None] = "status_change"
    status_change: PhoneNumberStatusChange = Field(validation_alias="data")


class PhoneNumberChange(LinqModel):
    phone_number: str
    changed_at: datetime | None = None


class PhoneNumberEvent(Event):
    """phone_number.assigned / phone_number.released."""

    payload_field: ClassVar[str | None] = "line"
    line: PhoneNumberChange = Field(validation_alias="data")

    @property
    def assigned(self) -> bool:
        return self.event_type == "phone_number.assigned"


class ContactCard(LinqModel):
    """A card shared by a contact: ``sender_handle`` shared it, ``owner_handle`` is your receiving line."""

    first_name: str = ""
    last_name: str = ""
    sender_handle: str | None = None
    owner_handle: str | None = None
    media_url: str | None = None


class ContactCardReceivedEvent(Event):
    payload_field: ClassVar[str | None] = "card"
    card: ContactCard = Field(validation_alias="data")


# Polls


class PollVoter(LinqModel):
    handle: str
    voted_at: datetime | None = None


class PollOption(LinqModel):
    option_id: str
    text: str = ""
    can_be_edited: bool = False
    creator: Handle | None = Field(default=None, alias="creator_handle")
    voters: list[PollVoter] = Field(default_factory=list)


class Poll(LinqModel):
    options: list[PollOption] = Field(default_factory=list)
    total_voters: int = 0


class PollError(LinqModel):
    code: int | None = None
    message: str | None = None


class PollActivity(LinqModel):
    """All poll.* data shapes in one: snapshot (``poll``), ``added_options``, vote (``option_id``), failure.

    ``sender`` is the voter for votes and your line for ``poll.updated``.
    """

    chat: ChatRef
    message_id: str
    direction: Direction | None = None
    service: str | None = None
    sender: Handle | None = Field(default=None, alias="sender_handle")
    poll: Poll | None = None
    added_options: list[PollOption] = Field(default_factory=list)
    option_id: str | None = None
    error: PollError | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    received_at: datetime | None = None
    failed_at: datetime | None = None
    zero_retention: bool = False


class PollEvent(Event):
    """Every poll.* event except poll.reaction.added (a ReactionEvent)."""

    payload_field: ClassVar[str | None] = "activity"
    activity: PollActivity = Field(validation_alias="data")

    @property
    def chat_id(self) -> str:
        return self.activity.chat.id


# Payments and account activity


class PaymentRequest(LinqModel):
    """A payment request; provider details (``stripe``, ``natural``, ``discount``...) stay as extras."""

    id: str
    status: str | None = None
    amount: int | None = None
    currency: str | None = None
    checkout_url: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    mode: str | None = None
    rail: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PaymentEvent(Event):
    """payment.succeeded / canceled / expired / declined / authorized."""

    payload_field: ClassVar[str | None] = "payment"
    payment: PaymentRequest = Field(validation_alias="data")


class Actor(LinqModel):
    type: str = "unknown"
    id: str | None = None
    email: str | None = None
    name: str | None = None


class AccountActivity(LinqModel):
    """The common data of account-activity events; the optional subject objects stay loosely typed."""

    actor: Actor | None = None
    occurred_at: datetime | None = None
    origin: str | None = None
    summary: str | None = None
    change: dict[str, Any] | None = None
    phone_number: str | None = None
    api_token: dict[str, Any] | None = None
    contact_card: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    team_member: dict[str, Any] | None = None
    webhook_subscription: dict[str, Any] | None = None
    method: str | None = None
    lines_moved_to_production: int | None = None
    tokens_revoked: int | None = None


class AccountEvent(Event):
    """Account activity: api_token.*, environment.*, webhook_subscription.*, team_member.*, ..."""

    payload_field: ClassVar[str | None] = "activity"
    activity: AccountActivity = Field(validation_alias="data")


def reported_chat(event: Event) -> ChatRef | Chat | None:
    """The chat object an event carries (messages, edits, polls, background changes, chat.created); None if none.

    Typed events answer from their payload without reading the raw data; a plain event's ``data.chat`` is read
    leniently (None when it is not a chat object).
    """
    if isinstance(event, MessageEvent):
        return event.message.chat
    if isinstance(event, MessageEditedEvent):
        return event.edit.chat
    if isinstance(event, PollEvent):
        return event.activity.chat
    if isinstance(event, ChatBackgroundEvent):
        return event.change.chat
    if isinstance(event, ChatCreatedEvent):
        return event.chat
    chat = event.data.get("chat") if event.payload_field is None else None
    try:
        return ChatRef.model_validate(chat) if isinstance(chat, dict) else None
    except ValidationError:
        return None
