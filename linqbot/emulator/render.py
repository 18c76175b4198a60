"""State records -> the exact JSON shapes of the SDK response and webhook models (no extra keys)."""

from typing import Any

from linqbot.emulator.clock import iso, iso_or_none
from linqbot.emulator.state import Chat, Message, Participant, PollOption, Reaction

Json = dict[str, Any]
HEALTH_DOC = "https://docs.linqapp.com/guides/chats/chat-health/"
REPUTATION_DOC = "https://docs.linqapp.com/guides/phone-numbers/phone-reputation/"
WEBHOOK_LAYOUT_KEYS = ("caption", "subcaption", "trailing_caption", "trailing_subcaption")


def handle(p: Participant) -> Json:
    out: Json = {
        "id": p.id,
        "handle": p.handle,
        "joined_at": iso(p.joined_at),
        "service": p.service,
        "is_me": p.is_me,
        "left_at": iso_or_none(p.left_at),
        "status": p.status,
    }
    if p.line_type is not None:
        out["line_type"] = p.line_type
    return out


def health(chat: Chat) -> Json:
    return {
        "status": chat.health,
        "doc_url": f"{HEALTH_DOC}#{chat.health.lower().replace('_', '-')}",
        "updated_at": iso(chat.health_updated_at),
    }


def display_name(chat: Chat) -> str:
    return chat.display_name or ", ".join(p.handle for p in chat.others())


def chat(c: Chat) -> Json:
    """The ``Chat`` model (GET /v3/chats/{id}, list items)."""
    out: Json = {
        "id": c.id,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "display_name": display_name(c),
        "handles": [handle(p) for p in c.participants],
        "health_status": health(c),
        "is_archived": False,
        "is_group": c.is_group,
        "service": c.service,
    }
    if c.group_chat_icon is not None:
        out["group_chat_icon"] = c.group_chat_icon
    return out


def chat_created(c: Chat) -> Json:
    """``chat.created`` webhook data: a chat without the deprecated/optional extras."""
    return {
        "id": c.id,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "display_name": display_name(c),
        "handles": [handle(p) for p in c.participants],
        "health_status": health(c),
        "is_group": c.is_group,
        "service": c.service,
    }


def chat_stub(c: Chat) -> Json:
    return {"id": c.id, "is_group": c.is_group, "owner_handle": handle(c.me())}


def _participant(c: Chat, handle_str: str) -> Participant:
    found = next((p for p in c.participants if p.handle == handle_str), None)
    return found or Participant(handle=handle_str, joined_at=c.created_at, service=c.service)


def reaction(c: Chat, r: Reaction) -> Json:
    out: Json = {"handle": handle(_participant(c, r.handle)), "is_me": r.is_me, "type": r.type, "id": r.id}
    if r.custom_emoji is not None:
        out["custom_emoji"] = r.custom_emoji
    if r.sticker is not None:
        out["sticker"] = r.sticker
    return out


def api_parts(c: Chat, m: Message) -> list[Json]:
    """Parts as the REST API returns them: each with the reactions that target it."""
    parts = []
    for index, part in enumerate(m.parts):
        rendered = dict(part)
        rendered["reactions"] = [reaction(c, r) for r in m.reactions if r.part_index == index]
        parts.append(rendered)
    return parts


def webhook_parts(m: Message) -> list[Json]:
    """Parts as webhooks carry them: no reactions, and app layouts without image fields."""
    parts = []
    for part in m.parts:
        rendered = dict(part)
        if rendered["type"] == "imessage_app":
            rendered["layout"] = {k: v for k, v in rendered["layout"].items() if k in WEBHOOK_LAYOUT_KEYS}
        parts.append(rendered)
    return parts


def sent_message(c: Chat, m: Message) -> Json:
    """``SentMessage`` (create/send responses)."""
    return {
        "id": m.id,
        "created_at": iso(m.created_at),
        "delivery_status": m.delivery_status,
        "is_read": m.read_at is not None,
        "parts": api_parts(c, m),
        "sent_at": iso_or_none(m.sent_at),
        "delivered_at": iso_or_none(m.delivered_at),
        "effect": m.effect,
        "from_handle": handle(_participant(c, m.sender)),
        "preferred_service": m.preferred_service,
        "reply_to": m.reply_to,
        "service": m.service,
    }


def message(c: Chat, m: Message) -> Json:
    """``Message`` (GET message, chat message lists, threads, edits)."""
    return {
        "id": m.id,
        "chat_id": m.chat_id,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "delivery_status": m.delivery_status,
        "is_delivered": m.delivered_at is not None,
        "is_from_me": m.direction == "outbound",
        "is_read": m.read_at is not None,
        "sent_at": iso_or_none(m.sent_at),
        "delivered_at": iso_or_none(m.delivered_at),
        "read_at": iso_or_none(m.read_at),
        "effect": m.effect,
        "from": m.sender,
        "from_handle": handle(_participant(c, m.sender)),
        "parts": api_parts(c, m),
        "preferred_service": m.preferred_service,
        "reply_to": m.reply_to,
        "service": m.service,
    }


def message_event(c: Chat, m: Message) -> Json:
    """``MessageEventV2`` data for message.sent/received/delivered/read (2026-02-03)."""
    out: Json = {
        "id": m.id,
        "chat": {"id": c.id, "health_status": health(c), "is_group": c.is_group, "owner_handle": handle(c.me())},
        "direction": m.direction,
        "parts": webhook_parts(m),
        "sender_handle": handle(_participant(c, m.sender)),
        "service": m.service,
        "preferred_service": m.preferred_service,
        "effect": m.effect,
        "reply_to": m.reply_to,
        "sent_at": iso_or_none(m.sent_at),
        "delivered_at": iso_or_none(m.delivered_at),
        "read_at": iso_or_none(m.read_at),
    }
    if m.idempotency_key is not None:
        out["idempotency_key"] = m.idempotency_key
    return out


def participant_handle(c: Chat, handle_str: str) -> Json:
    return handle(_participant(c, handle_str))


def poll_option(c: Chat, o: PollOption) -> Json:
    return {
        "option_id": o.option_id,
        "text": o.text,
        "can_be_edited": False,
        "creator_handle": participant_handle(c, o.creator),
        "voters": [{"handle": h, "voted_at": iso(at)} for h, at in o.voters.items()],
    }


def poll(c: Chat, m: Message) -> Json:
    options = m.poll or []
    voters = {h for o in options for h in o.voters}
    return {"total_voters": len(voters), "options": [poll_option(c, o) for o in options]}


def poll_envelope(c: Chat, m: Message) -> Json:
    return {
        "chat_id": c.id,
        "message_id": m.id,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "poll": poll(c, m),
        "reactions": [reaction(c, r) for r in m.reactions],
    }
