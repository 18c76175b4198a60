"""A client that hangs up mid-request is not an emulator bug: the log says what happened, and nothing breaks."""

import asyncio
import logging

import pytest
from yarl import URL

from linqbot.emulator import Emulator


class _SetOn(logging.Handler):
    """Sets ``event`` when a record containing ``text`` is logged."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def test_client_hanging_up_mid_body_is_logged_as_a_disconnect(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    chat_id = (await emu.inbound("+15551230000", "hi"))["chat_id"]
    url = URL(emu.url)
    caplog.set_level(logging.INFO, logger="linqbot.emulator")
    disconnect_logged = asyncio.Event()
    handler = _SetOn("client disconnected", disconnect_logged)
    logging.getLogger("linqbot.emulator").addHandler(handler)
    _, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        (
            f"POST /api/partner/v3/chats/{chat_id}/messages HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: Bearer {emu.api_key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            '{"message": {"parts": ['
        ).encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    try:
        await asyncio.wait_for(disconnect_logged.wait(), 5)
    finally:
        logging.getLogger("linqbot.emulator").removeHandler(handler)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(emu.messages()) == 1  # the person's message only: the half-sent reply was not stored
    assert (await emu.inbound("+15551230000", "still there?"))["chat_id"] == chat_id
