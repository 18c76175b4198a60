"""``linqbot doctor`` against the emulator (the account) and a running bot (reachability)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from linqbot import Bot
from linqbot.emulator import Emulator
from linqbot.live.doctor import check_reachability
from tests.live.conftest import linqbot

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="  # base64 of 32 bytes


def failures(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("✗")]


@pytest.fixture
async def registered(live_env: Emulator) -> Emulator:
    done = await linqbot("webhooks", "register", "https://bot.example.com/webhook", "--write-env")
    assert done.status == 0, done.err
    return live_env


async def test_a_ready_account_passes_every_check(registered: Emulator) -> None:
    done = await linqbot("doctor")

    assert done.status == 0, done.out
    assert failures(done.out) == []
    assert "✓ api key" in done.out
    assert f"✓ line {registered.line}: HEALTHY" in done.out
    assert "✓ webhook " in done.out
    assert "✓ signing secret" in done.out and "cannot be checked remotely" in done.out
    assert done.out.rstrip().endswith("ready to go live")


async def test_a_refused_key_fails_with_a_fix(registered: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQ_API_KEY", "wrong")
    done = await linqbot("doctor")

    assert done.status == 1
    assert "✗ api key: Linq refused LINQ_API_KEY (401)" in done.out
    assert "fix: copy the key again" in done.out


async def test_no_subscription_and_no_secret(live_env: Emulator) -> None:
    done = await linqbot("doctor")

    assert done.status == 1
    assert "✗ webhooks: no webhook subscription" in done.out
    assert "fix: run `linqbot webhooks register https://YOUR-HOST/webhook`" in done.out
    assert "✗ signing secret: LINQ_WEBHOOK_SECRET is not set" in done.out


async def test_an_unpinned_http_subscription_without_messages_is_explained(
    live_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINQ_WEBHOOK_SECRET", SECRET)
    done = await linqbot("webhooks", "register", "https://bot.example.com/webhook", "--events", "reaction.added")
    [sub] = live_env.engine.state.subscriptions.values()
    sub.target_url = "http://bot.example.com/webhook"
    sub.is_active = False

    report = await linqbot("doctor")

    assert done.status == 0 and report.status == 1
    [line] = [line for line in failures(report.out) if line.startswith(f"✗ webhook {sub.id}")]
    assert "inactive" in line and "not https" in line and "not pinned to 2026-02-03" in line
    assert "does not receive message.received" in line
    assert f"linqbot webhooks update {sub.id} --enable" in report.out
    assert "✗ webhooks: no healthy subscription" in report.out


async def test_a_critical_line_and_a_truncated_secret_fail(
    registered: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered.set_line_status(registered.line, reputation="CRITICAL")
    monkeypatch.setenv("LINQ_WEBHOOK_SECRET", "whsec_QUJDREVGR0g=")
    done = await linqbot("doctor")

    assert done.status == 1
    assert f"✗ line {registered.line}: CRITICAL" in done.out
    assert "fix: pause outbound on this line" in done.out
    assert "✗ signing secret: whsec_…g= is not a whole whsec_ secret" in done.out
    assert "QUJDREVGR0g" not in done.out, "a secret is never printed in full"


async def test_a_phone_number_that_is_not_the_accounts(registered: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQ_PHONE_NUMBER", "+15559999999")
    done = await linqbot("doctor")

    assert done.status == 1
    assert "✗ LINQ_PHONE_NUMBER: +15559999999 is not one of this account's lines" in done.out


@pytest.fixture
async def bot_url(emulator: Emulator) -> AsyncIterator[str]:
    """A real bot webhook server with SECRET, on loopback."""
    bot = Bot(api_key=emulator.api_key, base_url=emulator.base_url, webhook_secret=SECRET, env_file=None)
    handled: list[object] = []

    @bot.on_message()
    async def record(ctx: object) -> None:
        handled.append(ctx)

    runner = web.AppRunner(bot.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/webhook"
    await runner.cleanup()
    assert handled == [], "the doctor's probes never reach a handler"


async def test_reachability_proves_a_verifying_linqbot_webhook_with_the_same_secret(bot_url: str) -> None:
    checks = await check_reachability(bot_url, [SECRET])

    assert [(c.name, c.ok) for c in checks] == [("reachable", True), ("secret matches the bot", True)]


async def test_reachability_spots_a_different_secret(bot_url: str) -> None:
    other = "whsec_" + "WllZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVk="
    checks = await check_reachability(bot_url, [other])

    assert [(c.name, c.ok) for c in checks] == [("reachable", True), ("secret matches the bot", False)]
    assert "different LINQ_WEBHOOK_SECRET" in checks[1].fix


async def test_reachability_spots_a_wrong_path_and_a_dead_host(bot_url: str) -> None:
    [wrong_path] = await check_reachability(bot_url.replace("/webhook", "/hook"), [SECRET])
    assert not wrong_path.ok and "404" in wrong_path.detail and "POST /webhook" in wrong_path.fix

    [dead] = await check_reachability("http://127.0.0.1:9/webhook", [SECRET], timeout=2)
    assert not dead.ok and "is the bot running" in dead.fix


async def test_doctor_url_reports_a_url_no_subscription_delivers_to(
    registered: Emulator, bot_url: str, workdir: Path
) -> None:
    done = await linqbot("doctor", "--url", bot_url)

    assert done.status == 1
    assert "✓ reachable" in done.out
    assert f"✗ webhook for --url: no subscription delivers to {bot_url}" in done.out
