"""SIGTERM: the bot keeps listening but answers 503 (so Linq retries), lets in-flight handlers finish, exits 0."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from linqbot.emulator import Emulator
from tests.conftest import signed_headers
from tests.durability.conftest import BotProcess, bot_env, free_port, poll_until, subscribe


@pytest.mark.slow
async def test_sigterm_drains_in_flight_work_answers_503_meanwhile_and_exits_0(
    emulator: Emulator, tmp_path: Path
) -> None:
    port = free_port()
    secret = await subscribe(emulator, f"http://127.0.0.1:{port}/webhook")
    bot = BotProcess(
        bot_env(emulator, secret, LINQBOT_INBOX_URL=f"sqlite:///{tmp_path / 'inbox.db'}"), port, tmp_path / "bot.log"
    )
    await bot.start()
    try:
        slow = await emulator.inbound("+14440000001", "slow:2")
        await emulator.wait_for(
            lambda: any(d["event_id"] in slow["event_ids"] and d["status"] == 200 for d in emulator.webhook_log())
        )
        bot.terminate()
        async with aiohttp.ClientSession() as session:

            async def health() -> int:
                async with session.get(f"{bot.url}/healthz") as response:
                    return response.status

            deadline = time.monotonic() + 5
            while await health() != 503:
                assert time.monotonic() < deadline, "the bot never started draining"
            late = await emulator.inbound("+14440000002", "hello during the drain")
            await emulator.wait_for(
                lambda: any(d["event_id"] in late["event_ids"] and d["status"] == 503 for d in emulator.webhook_log())
            )
            body = b'{"event_type": "message.received", "event_id": "direct", "data": {}}'
            async with session.post(
                f"{bot.url}/webhook", data=body, headers=signed_headers(body, secret=secret)
            ) as response:
                assert response.status == 503
                assert (await response.json())["error"] == "shutting_down"
        assert await bot.exit_code(timeout=20) == 0, bot.log_tail()
        assert [m["text"] for m in emulator.messages(direction="outbound")] == ["re: slow:2"], (
            "the in-flight handler finished before exit, the late message was not taken"
        )

        await bot.start()  # Linq's retry of the 503'd delivery reaches the new process
        await poll_until(lambda: len(emulator.messages(direction="outbound")) == 2, 30, "the late message is answered")
        assert emulator.messages(direction="outbound")[1]["text"] == "re: hello during the drain"
    finally:
        bot.stop()
