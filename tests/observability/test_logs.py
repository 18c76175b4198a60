"""Every log line emitted while an event is handled carries its trace_id, event_id and chat; handles are masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from linqbot import Bot, Context
from linqbot.events import Event
from linqbot.middleware import Safeguards
from linqbot.observability import log_handler
from linqbot.testing import simulate

PERSON = "+15550100002"


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = log_handler(request.param, stream)
    logger = logging.getLogger("shop")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def shop_bot(seen: list[Event] | None = None) -> Bot:
    bot = Bot(env_file=None, safeguards=Safeguards.off())
    log = logging.getLogger("shop")

    @bot.on_message()
    async def order(ctx: Context) -> None:
        if seen is not None:
            seen.append(ctx.event)
        log.info("order received")
        await ctx.reply("thanks")

    return bot


@pytest.mark.parametrize("captured", ["json"], indirect=True)
async def test_json_lines_carry_the_event_context_and_mask_the_sender(captured: io.StringIO) -> None:
    seen: list[Event] = []
    async with simulate(shop_bot(seen)) as sim:
        user = sim.user(PERSON)
        await user.send("one pizza")
        await user.expect_reply()
        logging.getLogger("shop").info("outside any event")

    inside, outside = (json.loads(line) for line in captured.getvalue().splitlines())
    [received] = sim.emulator.events("message.received")
    assert inside["message"] == "order received"
    assert inside["event_id"] == received["event_id"]
    assert seen[0].trace_id and inside["trace_id"] == seen[0].trace_id
    assert inside["chat"] == user.last_chat_id
    assert inside["sender"] == "+1***02"
    assert PERSON not in captured.getvalue()
    assert outside["message"] == "outside any event"
    assert "event_id" not in outside and "chat" not in outside


@pytest.mark.parametrize("captured", ["text"], indirect=True)
async def test_text_lines_name_the_event(captured: io.StringIO) -> None:
    seen: list[Event] = []
    async with simulate(shop_bot(seen)) as sim:
        user = sim.user(PERSON)
        await user.send("one pizza")
        await user.expect_reply()

    [line] = captured.getvalue().splitlines()
    event = seen[0]
    assert f"[event={event.event_id} chat={user.last_chat_id} trace={event.trace_id}]" in line
    assert line.endswith(": order received")


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="LINQBOT_LOG_FORMAT must be text or json"):
        log_handler("yaml")
