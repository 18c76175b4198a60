"""Shared, lenient building blocks of Linq webhook payloads (2026-02-03 shapes).

The SDK marks fields required that real deliveries omit (handles' ``joined_at``, ``chat.health_status``, ...),
so everything not needed to act on a payload is optional here, and unknown keys are ignored rather than rejected.
They are not lost: ``Event.data`` keeps the raw object. Not copying them into every nested model saves ~15% of
parsing a message on the per-webhook hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "AppClipPart",
    "Chat",
    "ChatRef",
    "Direction",
    "Effect",
    "Handle",
    "HealthStatus",
    "IMessageApp",
    "IMessageAppLayout",
    "IMessageAppPart",
    "LinkPart",
    "MediaPart",
    "Mention",
    "Message",
    "Part",
    "ReplyTo",
    "TextDecoration",
    "TextPart",
    "UnknownPart",
]

Direction = Literal["inbound", "outbound"]


class LinqModel(BaseModel):
    """Base of every payload model: ignores unknown keys (``Event.data`` has them), accepts names and JSON aliases."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Handle(LinqModel):
    """A participant of a chat (the SDK's ChatHandle); only ``handle`` itself is guaranteed."""

    handle: str
    id: str | None = None
    service: str | None = None
    is_me: bool = False
    joined_at: datetime | None = None
    left_at: datetime | None = None
    line_type: str | None = None
    status: str | None = None


class HealthStatus(LinqModel):
    """Chat health; ``status`` is upper-cased because older docs and deliveries use lowercase."""

    status: Annotated[str, StringConstraints(to_upper=True)]
    doc_url: str | None = None
    updated_at: datetime | None = None


class ChatRef(LinqModel):
    """The chat summary nested in message, edit and poll payloads."""

    id: str
    is_group: bool = False
    owner_handle: Handle | None = None
    health_status: HealthStatus | None = None


class Chat(LinqModel):
    """A full chat as delivered by ``chat.created``."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    handles: list[Handle] = []
    health_status: HealthStatus | None = None
    is_group: bool = False
    display_name: str | None = None
    service: str | None = None


class TextDecoration(LinqModel):
    range: list[int]
    style: str | None = None
    animation: str | None = None


class Mention(LinqModel):
    handle: str
    is_me: bool = False
    range: list[int] | None = None


class TextPart(LinqModel):
    type: Literal["text"] = "text"
    value: str
    text_decorations: list[TextDecoration] | None = None
    inline_stickers: list[dict[str, Any]] | None = None
    mentions: list[Mention] | None = None


class MediaPart(LinqModel):
    """An attachment; ``url`` is the only field a handler cannot do without."""

    type: Literal["media"] = "media"
    url: str
    id: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None


class LinkPart(LinqModel):
    type: Literal["link"] = "link"
    value: str


class IMessageApp(LinqModel):
    bundle_id: str | None = None
    name: str | None = None
    team_id: str | None = None
    app_store_id: int | None = None


class IMessageAppLayout(LinqModel):
    caption: str | None = None
    subcaption: str | None = None
    trailing_caption: str | None = None
    trailing_subcaption: str | None = None


class IMessageAppPart(LinqModel):
    type: Literal["imessage_app"] = "imessage_app"
    app: IMessageApp | None = None
    layout: IMessageAppLayout | None = None
    url: str | None = None
    fallback_text: str | None = None


class AppClipPart(LinqModel):
    type: Literal["app_clip"] = "app_clip"
    value: str
    title: str | None = None
    description: str | None = None
    image_url: str | None = None


class UnknownPart(LinqModel):
    """A part type this version of linqbot does not know; its fields stay available as extras."""

    model_config = ConfigDict(extra="allow")

    type: str


KnownPart = Annotated[TextPart | MediaPart | LinkPart | IMessageAppPart | AppClipPart, Field(discriminator="type")]

# Known types are told apart by ``type`` in pydantic's core; anything else falls back to UnknownPart.
Part = Annotated[KnownPart | UnknownPart, Field(union_mode="left_to_right")]


class Effect(LinqModel):
    type: str
    name: str


class ReplyTo(LinqModel):
    message_id: str | None = None
    part_index: int | None = None


class Message(LinqModel):
    """A message as carried by message.sent/received/delivered/read (the SDK's MessageEventV2).

    ``sender`` is the JSON ``sender_handle`` object; the ``sender_handle`` property is its handle string.
    """

    id: str
    chat: ChatRef
    direction: Direction
    parts: list[Part] = []
    sender: Handle | None = Field(default=None, alias="sender_handle")
    service: str | None = None
    preferred_service: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    effect: Effect | None = None
    reply_to: ReplyTo | None = None
    idempotency_key: str | None = None
    reconciled_at: datetime | None = None
    zero_retention: bool = False

    @property
    def chat_id(self) -> str:
        return self.chat.id

    @property
    def text(self) -> str:
        """All text parts joined by newlines; "" for media-only or zero-retention messages."""
        parts = self.parts
        if len(parts) == 1:  # the common case, without building a list: Context reads this for every message
            only = parts[0]
            return only.value if isinstance(only, TextPart) else ""
        return "\n".join([part.value for part in parts if isinstance(part, TextPart)])

    @property
    def media(self) -> list[MediaPart]:
        return [part for part in self.parts if isinstance(part, MediaPart)]

    @property
    def links(self) -> list[LinkPart]:
        return [part for part in self.parts if isinstance(part, LinkPart)]

    @property
    def is_group(self) -> bool:
        return self.chat.is_group

    @property
    def is_from_me(self) -> bool:
        """True for messages your own line sent: bots must not answer these."""
        return self.direction == "outbound"

    @property
    def sender_handle(self) -> str | None:
        return self.sender.handle if self.sender is not None else None
