"""``linqbot send``: a quick manual message through the bot's client, so its outbound middleware applies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from linqbot.emulator import Emulator
from tests.live.conftest import linqbot

SIGNING_BOT = """
from linqbot import Bot
from linqbot.outbound import LinqAPIError

bot = Bot()

async def sign(call, call_next):
    if "+15550100009" in (call.to or ()):
        raise LinqAPIError("this bot never writes to +15550100009", status=403)
    for part in call.params["message"]["parts"]:
        part["value"] += " (sent by ops)"
    return await call_next(call)

bot.outbound_middleware.add(sign, name="sign")
"""


async def test_send_opens_a_chat_on_the_configured_line(live_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQ_PHONE_NUMBER", live_env.line)
    done = await linqbot("send", "--to", "+15550100002", "deploy finished")

    assert done.status == 0, done.err
    [sent] = live_env.messages(direction="outbound")
    assert sent["text"] == "deploy finished"
    assert sent["to"] == ["+15550100002"]
    assert "+15550100002" not in done.out, "the recipient is masked"
    assert sent["chat_id"] in done.out


async def test_send_runs_the_bots_outbound_middleware(live_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQ_PHONE_NUMBER", live_env.line)
    monkeypatch.setenv("LINQ_WEBHOOK_SECRET", "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
    await asyncio.to_thread(Path("ops_bot.py").write_text, SIGNING_BOT)

    done = await linqbot("send", "--bot", "ops_bot.py", "--to", "+15550100002", "hello")
    refused = await linqbot("send", "--bot", "ops_bot.py", "--to", "+15550100009", "hello")

    assert done.status == 0, done.err
    assert [m["text"] for m in live_env.messages(direction="outbound")] == ["hello (sent by ops)"]
    assert refused.status == 1
    assert "not sent: " in refused.err and "never writes to" in refused.err
