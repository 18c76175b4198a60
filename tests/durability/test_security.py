"""The webhook under hostile input, secret rotation, and what the bot lets slip into logs and /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linqbot import Bot, Context, Safeguards
from linqbot.emulator import Emulator
from linqbot.testing import simulate
from linqbot.webhook import sign_standard
from tests.conftest import SECRET, load_fixture
from tests.durability.conftest import REPO, BotProcess, free_port, serve_bot

OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC12YWx1ZS0xMjM0NTY3OA=="
BODY_LIMIT = 64 * 1024
REQUESTS_PER_EXAMPLE = 50
EXAMPLES = 200  # x 50 requests = 10,000


def resident_bytes(pid: int) -> int:
    """A process's resident set size (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def event_body(event_id: str) -> bytes:
    payload = load_fixture("message.received")
    payload["event_id"] = event_id
    return json.dumps(payload).encode()


header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=200)
bodies = st.one_of(
    st.binary(max_size=512),
    st.builds(lambda: event_body(str(uuid.uuid4()))),
    st.dictionaries(st.text(max_size=10), st.none() | st.integers() | st.text(max_size=20), max_size=5).map(
        lambda value: json.dumps(value).encode()
    ),
    st.integers(BODY_LIMIT - 10, BODY_LIMIT + 10).map(lambda size: b"{" + b" " * size + b"}"),
    st.text(max_size=500).map(lambda text: text.encode("utf-16")),
)
modes = st.sampled_from(
    ["unsigned", "garbage", "truncated", "replayed", "stale", "wrong_secret", "legacy_garbage", "valid", "valid_old"]
)


def signed(mode: str, body: bytes, draw_text: str) -> dict[str, str]:
    """Headers for ``mode``; only the two valid modes carry a correct, fresh signature over this very body."""
    msg_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    if mode == "unsigned":
        return {}
    if mode == "garbage":
        return {"webhook-id": draw_text[:40] or "x", "webhook-timestamp": str(now), "webhook-signature": draw_text}
    if mode == "legacy_garbage":
        return {"X-Webhook-Timestamp": draw_text[:12], "X-Webhook-Signature": draw_text}
    secret = {"wrong_secret": "whsec_" + "d3Jvbmctc2VjcmV0LXRoYXQtaXMtbG9uZzEyMzQ=", "valid_old": OLD_SECRET}.get(
        mode, SECRET
    )
    signed_body = event_body(str(uuid.uuid4())) if mode == "replayed" else body
    timestamp = now - 3600 if mode == "stale" else now
    signature = sign_standard(secret, msg_id, timestamp, signed_body)
    if mode == "truncated":
        signature = signature[: max(4, len(signature) // 2)]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_ten_thousand_hostile_requests_no_5xx_no_unsigned_dispatch_bounded_memory(tmp_path: Path) -> None:
    """The bot runs as its own process (so its memory is measured alone); every dispatch is written to a file."""
    statuses: dict[int, int] = {}
    valid_ids: set[str] = set()
    rss: list[int] = []
    dispatch_log = tmp_path / "dispatched.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINQ_", "LINQBOT_"))}
    env.update(
        LINQ_API_KEY="k",
        LINQ_BASE_URL="http://127.0.0.1:9/api/partner",
        LINQ_WEBHOOK_SECRET=f"{SECRET},{OLD_SECRET}",
        LINQBOT_INBOX_URL="memory://",
        CRASH_BOT_DISPATCH_LOG=str(dispatch_log),
        CRASH_BOT_SAFEGUARDS="off",
        CRASH_BOT_BODY_LIMIT=str(BODY_LIMIT),
        PYTHONPATH=str(REPO),
    )
    bot = BotProcess(env, free_port(), tmp_path / "bot.log")
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(make_session())

    async def send_all(requests: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, str]]:
        async def post(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
            async with session.post(f"{bot.url}/webhook", data=body, headers=headers) as response:
                return response.status, await response.text()

        return list(await asyncio.gather(*(post(body, headers) for body, headers in requests)))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.tuples(bodies, modes, header_text, st.dictionaries(header_text.filter(str.isidentifier), header_text)),
            min_size=REQUESTS_PER_EXAMPLE,
            max_size=REQUESTS_PER_EXAMPLE,
        )
    )
    def hammer(requests: list[tuple[bytes, str, str, dict[str, str]]]) -> None:
        prepared = []
        for body, mode, text, extra in requests:
            headers = {**{f"x-fuzz-{k}"[:60]: v for k, v in extra.items()}, **signed(mode, body, text)}
            headers["content-type"] = text[:30] if mode == "garbage" else "application/json"
            prepared.append((body, headers))
        answers = loop.run_until_complete(send_all(prepared))
        for (body, mode, _, _), (status, text) in zip(requests, answers, strict=True):
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (mode, status, text)
            if mode in ("valid", "valid_old") and status == 200:
                valid_ids.add(json.loads(body)["event_id"])
            elif mode not in ("valid", "valid_old"):
                assert status in (401, 413), (mode, status, text)
        if sum(statuses.values()) == 2_000:  # pools and caches are warm: measure growth from here
            assert bot.process is not None
            rss.append(resident_bytes(bot.process.pid))

    started = time.monotonic()
    try:
        loop.run_until_complete(bot.start())
        hammer()
        assert bot.process is not None
        rss.append(resident_bytes(bot.process.pid))
    finally:
        bot.stop()
        loop.run_until_complete(session.close())
        loop.close()
    elapsed = time.monotonic() - started
    sent = sum(statuses.values())
    growth = rss[1] - rss[0]
    dispatched = dispatch_log.read_text().split() if dispatch_log.exists() else []
    print(
        f"\nfuzz: {sent} requests in {elapsed:.1f}s, statuses {dict(sorted(statuses.items()))}, "
        f"{len(dispatched)} dispatched, bot RSS {rss[0] / 2**20:.0f} -> {rss[1] / 2**20:.0f} MiB"
    )
    assert sent >= 10_000
    assert set(dispatched) <= valid_ids, "only validly signed events reach dispatch"
    assert len(dispatched) == len(valid_ids), "each validly signed event is dispatched once"
    assert growth < 16 * 2**20


async def make_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))


async def test_log_lines_at_info_carry_no_phone_number_or_secret(caplog: pytest.LogCaptureFixture) -> None:
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands")

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply(f"hello {ctx.text}")

    people = ["+15550100002", "+447700900123", "someone@example.com"]
    with caplog.at_level(logging.INFO):
        async with simulate(bot) as sim:
            sim.emulator.set_faults({"seed": 1, "rate_limit_storm": 2})  # the retries log the failed call
            for handle in people:
                await sim.user(handle).send("hi")
                await sim.user(handle).expect_reply()
            await sim.idle()
            line, secret, api_key = sim.emulator.line, bot.config.webhook_secret, bot.config.api_key
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "retrying Linq call" in logged, "the conversation did log"
    for value in [*people, line, secret, secret.removeprefix("whsec_"), api_key]:
        assert value not in logged, f"{value[:4]}… appeared in an INFO log line"


async def test_healthz_reveals_nothing_sensitive(emulator: Emulator) -> None:
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands", safeguards=Safeguards.off())
    async with serve_bot(bot, emulator) as webhook_url, httpx.AsyncClient() as client:
        response = await client.get(webhook_url.replace("/webhook", "/healthz"))
    assert response.status_code == 200
    assert set(response.json()) == {"ok", "pending"}
    for value in (bot.config.webhook_secret, bot.config.api_key, emulator.line, emulator.base_url):
        assert value not in response.text
