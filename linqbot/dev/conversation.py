"""The headless ``--say`` mode: a simulated person says each line, and we print what the bot did in answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from linqbot.dispatch.dispatcher import log as dispatch_log
from linqbot.testing import Simulation

Json = dict[str, Any]
TYPING = "bot is typing…"
PERSON_PAUSE = 5.0
"""Seconds a scripted person takes before each line, on the emulator's clock only (nothing waits for it): said at
machine speed, eight lines looked like a bot answering the bot, and the loop breaker silenced the chat."""
TAPBACKS = {"love": "❤️", "like": "👍", "dislike": "👎", "laugh": "😂", "emphasize": "‼️", "question": "❓"}


@dataclass
class Conversation:
    """What was said, in order, and which of the person's messages the bot left unanswered (with why)."""

    lines: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)

    @property
    def answered_all(self) -> bool:
        return not self.unanswered


async def converse(
    sim: Simulation,
    sayings: Sequence[str],
    *,
    sender: str,
    timeout: float = 10.0,
    echo: Callable[[str], None] = lambda line: None,
) -> Conversation:
    """Send each saying from ``sender`` and wait until the bot is idle before the next; ``echo`` sees each line."""
    conversation = Conversation()

    def say(line: str) -> None:
        conversation.lines.append(line)
        echo(line)

    user = sim.user(sender)
    changes = sim.emulator.engine.subscribe()
    errors = HandlerErrors()
    dispatch_log.addHandler(errors)
    try:
        for text in sayings:
            sim.emulator.advance_clock(PERSON_PAUSE)
            sent = await user.send(text)
            say(f"you: {text}")
            busy = False
            try:
                await sim.idle(timeout)
            except TimeoutError:
                busy = True
            answered = typing = False
            while not changes.empty():
                change = changes.get_nowait()
                if change["data"].get("chat_id") != sent["chat_id"]:
                    continue
                reply = change["type"] == "message.created" and change["data"]["direction"] == "outbound"
                answered |= reply
                line = describe(sim, change)
                if line is None or (line == TYPING and typing):
                    continue  # the bot renews its indicator before it answers (paced bubbles): one stretch of typing
                typing = line == TYPING or (typing and not reply)
                say(line)
            raised = [f"the handler raised {type(exc).__name__}: {exc}" for exc in errors.take()]
            for error in raised:
                say(f"  ({error})")
            if not answered:
                why = raised[0] if raised else f"the bot was still busy after {timeout:g} s" if busy else ""
                conversation.unanswered.append(f"{text!r} ({why})" if why else repr(text))
    finally:
        dispatch_log.removeHandler(errors)
        sim.emulator.engine.unsubscribe(changes)
    return conversation


class HandlerErrors(logging.Handler):
    """Collects what the dispatcher logs when a handler raises and no ``on_error`` handled it: the transcript
    then says why the bot went quiet, next to the line it went quiet on."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.raised: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.raised.append(record.exc_info[1])

    def take(self) -> list[BaseException]:
        raised, self.raised = self.raised, []
        return raised


def describe(sim: Simulation, change: Json) -> str | None:
    """One transcript line for a change the person would notice on their phone, else None."""
    data, kind, line = change["data"], change["type"], sim.emulator.line
    if kind == "typing" and data["handle"] == line and data["typing"]:
        return TYPING
    if kind == "message.created" and data["direction"] == "outbound":
        return "bot: " + render_message(data)
    if kind == "message.status" and data["direction"] == "inbound" and data["status"] == "read":
        return f"  (read: {quote(data)})"
    if kind == "reaction" and data["is_from_me"]:
        emoji = TAPBACKS.get(data["reaction_type"], data.get("custom_emoji") or data["reaction_type"])
        target = next(
            (m for m in sim.emulator.messages(chat_id=data["chat_id"]) if m["id"] == data["message_id"]), None
        )
        verb = "reacted" if data["operation"] == "add" else "took back"
        return f"bot {verb} {emoji} to {quote(target) if target else 'a message'}"
    return None


def render_message(message: Json) -> str:
    pieces = []
    for part in message.get("parts") or []:
        if part["type"] == "text":
            pieces.append(str(part["value"]))
        elif part["type"] == "media":
            pieces.append(f"[{part.get('mime_type') or 'media'}: {part['url']}]")
        elif part["type"] in ("link", "app_clip"):
            pieces.append(f"[link: {part['value']}]")
        else:
            pieces.append(f"[{part['type']}]")
    effect = message.get("effect")
    if effect:
        pieces.append(f"(sent with {effect['name']})")
    return " ".join(pieces) or "[empty message]"


def quote(message: Json) -> str:
    text = str(message.get("text") or "")
    return repr(text) if text else "your attachment"
