"""The in-memory model of one emulated Linq partner account (everything the REST API can read or change)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from linqbot.emulator.config import EmulatorConfig

Service = Literal["iMessage", "SMS", "RCS"]
Direction = Literal["inbound", "outbound"]
Health = Literal["HEALTHY", "AT_RISK", "CRITICAL", "OPTED_OUT"]
DeliveryStatus = Literal["pending", "queued", "sent", "delivered", "received", "read", "failed"]


def new_id() -> str:
    return str(uuid.uuid4())


class Line(BaseModel):
    id: str = Field(default_factory=new_id)
    phone_number: str
    line_type: Literal["iMessage", "RCS"] = "iMessage"
    reputation: Literal["HEALTHY", "AT_RISK", "CRITICAL"] = "HEALTHY"
    status: Literal["ACTIVE", "FLAGGED"] = "ACTIVE"
    forwarding_number: str | None = None
    uses: int = 0


class Participant(BaseModel):
    """A handle inside one chat (the API's ``ChatHandle``)."""

    id: str = Field(default_factory=new_id)
    handle: str
    joined_at: datetime
    service: Service
    is_me: bool = False
    line_type: Literal["iMessage", "RCS"] | None = None
    status: Literal["active", "left", "removed"] = "active"
    left_at: datetime | None = None


class Chat(BaseModel):
    id: str = Field(default_factory=new_id)
    line: str
    participants: list[Participant]
    is_group: bool
    service: Service
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    group_chat_icon: str | None = None
    health: Health = "HEALTHY"
    health_updated_at: datetime
    unanswered: int = 0
    left: bool = False
    typing: dict[str, datetime] = Field(default_factory=dict)
    background: dict[str, Any] | None = None
    last_card_share: datetime | None = None

    def me(self) -> Participant:
        return next(p for p in self.participants if p.is_me)

    def others(self) -> list[Participant]:
        return [p for p in self.participants if not p.is_me and p.status == "active"]

    def member(self, handle: str) -> Participant | None:
        return next((p for p in self.participants if p.handle == handle and p.status == "active"), None)


class Reaction(BaseModel):
    id: str = Field(default_factory=new_id)
    handle: str
    is_me: bool
    type: str
    part_index: int = 0
    custom_emoji: str | None = None
    sticker: dict[str, Any] | None = None
    placement: dict[str, float] | None = None
    created_at: datetime


class PollOption(BaseModel):
    option_id: str = Field(default_factory=new_id)
    text: str
    creator: str
    voters: dict[str, datetime] = Field(default_factory=dict)


class Message(BaseModel):
    id: str = Field(default_factory=new_id)
    chat_id: str
    direction: Direction
    sender: str
    parts: list[dict[str, Any]]
    service: Service
    delivery_status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    effect: dict[str, Any] | None = None
    reply_to: dict[str, Any] | None = None
    preferred_service: Service | None = None
    idempotency_key: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_code: int | None = None
    edit_count: int = 0
    reactions: list[Reaction] = Field(default_factory=list)
    poll: list[PollOption] | None = None

    @property
    def text(self) -> str:
        return "\n".join(str(p["value"]) for p in self.parts if p.get("type") == "text")


class Attachment(BaseModel):
    id: str = Field(default_factory=new_id)
    filename: str
    content_type: str
    size_bytes: int
    created_at: datetime
    status: Literal["pending", "complete", "failed"] = "pending"
    upload_token: str
    content_b64: str = ""


class Subscription(BaseModel):
    id: str = Field(default_factory=new_id)
    target_url: str
    subscribed_events: list[str]
    phone_numbers: list[str] | None = None
    is_active: bool = True
    created_at: datetime
    updated_at: datetime
    signing_secret: str
    routing_id_header: str | None = None
    routing_key_header: str | None = None


class BlockedHandle(BaseModel):
    handle: str
    blocked_at: datetime
    reason: str | None = None


class ContactCard(BaseModel):
    phone_number: str
    first_name: str
    last_name: str | None = None
    image_url: str | None = None
    is_active: bool = True


class Person(BaseModel):
    """A scripted simulated person (``POST /_emulator/people``)."""

    handle: str
    auto_read: bool = True
    read_delay: float | None = None
    auto_reply: str | None = None
    reply_delay: float = 0.05
    fail_code: int | None = None
    imessage: bool = True
    rcs: bool = False
    share_location: bool = True


class LocationShare(BaseModel):
    handle: str
    line: str
    chat_id: str
    began_at: datetime
    ends_at: datetime | None = None
    longitude: float = -122.4194
    latitude: float = 37.7749


class State(BaseModel):
    """Everything persisted by ``--db``; dict order is creation order."""

    lines: list[Line] = Field(default_factory=list)
    chats: dict[str, Chat] = Field(default_factory=dict)
    messages: dict[str, Message] = Field(default_factory=dict)
    attachments: dict[str, Attachment] = Field(default_factory=dict)
    subscriptions: dict[str, Subscription] = Field(default_factory=dict)
    blocked: dict[str, BlockedHandle] = Field(default_factory=dict)
    contact_cards: dict[str, ContactCard] = Field(default_factory=dict)
    opted_out: list[str] = Field(default_factory=list)
    people: dict[str, Person] = Field(default_factory=dict)
    idempotency: dict[str, str | None] = Field(default_factory=dict)
    location_shares: list[LocationShare] = Field(default_factory=list)
    audits: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def initial(cls, config: EmulatorConfig) -> "State":
        return cls(lines=[Line(phone_number=s.phone_number, line_type=s.line_type) for s in config.lines])

    def line(self, phone_number: str) -> Line | None:
        return next((line for line in self.lines if line.phone_number == phone_number), None)
