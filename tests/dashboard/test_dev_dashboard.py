"""``linqbot dev`` serves the dashboard beside the phone page, and it shows the phone's conversation."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from tests.dev.test_dev_command import TIMEOUT, interactive_dev


async def test_linqbot_dev_prints_the_dashboard_and_it_follows_the_conversation() -> None:
    async with interactive_dev() as proc:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode() for _ in range(4)]
        phone = lines[0].rsplit(" ", 1)[1].strip()
        [dashboard] = [line.split(": ", 1)[1].strip() for line in lines if line.strip().startswith("dashboard:")]
        async with aiohttp.ClientSession() as http:
            async with http.get(dashboard) as page:
                assert page.status == 200 and "linqbot dashboard" in await page.text()
            async with http.ws_connect(dashboard + "api/events") as stream:
                assert (await stream.receive_json(timeout=TIMEOUT))["kind"] == "hello"
                async with http.post(phone + "_emulator/inbound", json={"from": "+15550100001", "text": "hi"}) as sent:
                    assert sent.status < 300, await sent.text()
                while (event := (await stream.receive_json(timeout=TIMEOUT))["event"])["type"] != "message.received":
                    pass
                assert event["from"] == "+1***01" and event["outcome"] == "handled"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
