"""Which class each Linq ``event_type`` parses to: one row per literal of the SDK's ``WebhookEventType``.

Routing is on the ``event_type`` string, never on the SDK's ambiguous union. A test keeps this table in step
with the SDK: it fails as soon as the SDK gains or drops a type.
"""

from __future__ import annotations

from dataclasses import dataclass

from linqbot.events.types import (
    AccountEvent,
    ChatBackgroundEvent,
    ChatCreatedEvent,
    ContactCardReceivedEvent,
    Event,
    GroupChatUpdatedEvent,
    LocationSharingEvent,
    MessageEditedEvent,
    MessageEvent,
    MessageFailedEvent,
    ParticipantEvent,
    PaymentEvent,
    PhoneNumberEvent,
    PhoneNumberStatusEvent,
    PollEvent,
    ReactionEvent,
    TypingEvent,
)

__all__ = ["EVENT_TABLE", "Ignored"]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A known event type deliberately left untyped: it parses to a plain ``Event`` and is acknowledged."""

    reason: str


_NO_SDK_MODEL = Ignored("no payload model in the SDK; logged and acknowledged")
_UNVERIFIED = Ignored("SDK reuses the payment-request model for it, which looks like a generator quirk; unverified")

_ACCOUNT_TYPES = (
    "zero_day_retention.updated",
    "phone_number.forwarding_updated",
    "environment.line_moved",
    "contact_card.created",
    "contact_card.updated",
    "contact_card.deleted",
    "api_token.created",
    "api_token.renamed",
    "api_token.expiry_scheduled",
    "api_token.expired",
    "api_token.activated",
    "api_token.deleted",
    "environment.created",
    "environment.renamed",
    "environment.deleted",
    "webhook_subscription.created",
    "webhook_subscription.deleted",
    "webhook_subscription.target_url_changed",
    "webhook_subscription.enabled",
    "webhook_subscription.disabled",
    "webhook_subscription.events.updated",
    "webhook_subscription.phone_numbers.updated",
    "webhook_subscription.routing_headers_set",
    "webhook_subscription.routing_headers_cleared",
    "team_member.added",
    "team_member.signed_in",
    "team_member.signed_out",
)

EVENT_TABLE: dict[str, type[Event] | Ignored] = {
    "message.sent": MessageEvent,
    "message.received": MessageEvent,
    "message.delivered": MessageEvent,
    "message.read": MessageEvent,
    "message.failed": MessageFailedEvent,
    "message.edited": MessageEditedEvent,
    "reaction.added": ReactionEvent,
    "reaction.removed": ReactionEvent,
    "poll.reaction.added": ReactionEvent,
    "poll.received": PollEvent,
    "poll.failed": PollEvent,
    "poll.sent": PollEvent,
    "poll.delivered": PollEvent,
    "poll.read": PollEvent,
    "poll.updated": PollEvent,
    "poll.vote.added": PollEvent,
    "poll.vote.removed": PollEvent,
    "participant.added": ParticipantEvent,
    "participant.removed": ParticipantEvent,
    "chat.created": ChatCreatedEvent,
    "chat.group_name_updated": GroupChatUpdatedEvent,
    "chat.group_icon_updated": GroupChatUpdatedEvent,
    "chat.group_name_update_failed": GroupChatUpdatedEvent,
    "chat.group_icon_update_failed": GroupChatUpdatedEvent,
    "chat.background_updated": ChatBackgroundEvent,
    "chat.background_update_failed": ChatBackgroundEvent,
    "chat.typing_indicator.started": TypingEvent,
    "chat.typing_indicator.stopped": TypingEvent,
    "phone_number.status_updated": PhoneNumberStatusEvent,
    "phone_number.assigned": PhoneNumberEvent,
    "phone_number.released": PhoneNumberEvent,
    "contact_card.received": ContactCardReceivedEvent,
    "location.sharing.started": LocationSharingEvent,
    "location.sharing.stopped": LocationSharingEvent,
    "payment.succeeded": PaymentEvent,
    "payment.canceled": PaymentEvent,
    "payment.expired": PaymentEvent,
    "payment.declined": PaymentEvent,
    "payment.authorized": PaymentEvent,
    "connection.created": _UNVERIFIED,
    "connection.revoked": _UNVERIFIED,
    "call.initiated": _NO_SDK_MODEL,
    "call.ringing": _NO_SDK_MODEL,
    "call.answered": _NO_SDK_MODEL,
    "call.ended": _NO_SDK_MODEL,
    "call.failed": _NO_SDK_MODEL,
    "call.declined": _NO_SDK_MODEL,
    "call.no_answer": _NO_SDK_MODEL,
    **dict.fromkeys(_ACCOUNT_TYPES, AccountEvent),
}
