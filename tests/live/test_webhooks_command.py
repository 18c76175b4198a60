"""``linqbot webhooks register|list|update|delete`` against the emulator, through the official SDK over HTTP."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from linqbot.emulator import Emulator
from linqbot.emulator.state import Subscription
from linqbot.live import handled_event_types, pin_version
from tests.live.conftest import linqbot


def subscriptions(emu: Emulator) -> list[Subscription]:
    return list(emu.engine.state.subscriptions.values())


def read(path: str) -> str:
    return Path(path).read_text()


def mode(path: str) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


@pytest.mark.parametrize(
    ("given", "pinned"),
    [
        ("https://bot.example.com/webhook", "https://bot.example.com/webhook?version=2026-02-03"),
        ("https://bot.example.com/webhook?version=2025-01-01", "https://bot.example.com/webhook?version=2026-02-03"),
        ("https://bot.example.com/hook?team=a&version=x", "https://bot.example.com/hook?team=a&version=2026-02-03"),
    ],
)
def test_the_url_is_pinned_to_the_payload_version_linqbot_parses(given: str, pinned: str) -> None:
    assert pin_version(given) == pinned


def test_a_relative_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        pin_version("/webhook")


async def test_register_subscribes_every_handled_event_and_keeps_the_secret_private(live_env: Emulator) -> None:
    done = await linqbot("webhooks", "register", "https://bot.example.com/webhook")

    assert done.status == 0, done.err
    [sub] = subscriptions(live_env)
    assert sub.target_url == "https://bot.example.com/webhook?version=2026-02-03"
    assert set(sub.subscribed_events) == set(handled_event_types())
    assert "message.received" in sub.subscribed_events
    secret = sub.signing_secret
    assert read(".linqbot/webhook-secret").strip() == secret
    assert mode(".linqbot/webhook-secret") == 0o600
    assert secret not in done.out, "the secret is printed only with --show-secret"
    assert secret[-2:] in done.out and "LINQ_WEBHOOK_SECRET" in done.out
    assert not await asyncio.to_thread(Path(".env").exists)


async def test_register_with_events_line_write_env_and_show_secret(live_env: Emulator) -> None:
    await asyncio.to_thread(Path(".env").write_text, "LINQ_WEBHOOK_SECRET=old\nOTHER=1\n")
    done = await linqbot(
        "webhooks",
        "register",
        "https://bot.example.com/hook?version=2025-01-01",
        "--events",
        "message.received,reaction.added",
        "--line",
        live_env.line,
        "--write-env",
        "--show-secret",
    )

    assert done.status == 0, done.err
    [sub] = subscriptions(live_env)
    secret = sub.signing_secret
    assert sub.subscribed_events == ["message.received", "reaction.added"]
    assert sub.phone_numbers == [live_env.line]
    assert sub.target_url.endswith("?version=2026-02-03")
    assert read(".env") == f"LINQ_WEBHOOK_SECRET={secret}\nOTHER=1\n"
    assert mode(".env") == 0o600
    assert f"LINQ_WEBHOOK_SECRET={secret}" in done.out


async def test_an_unknown_event_type_is_refused_before_calling_linq(live_env: Emulator) -> None:
    done = await linqbot("webhooks", "register", "https://bot.example.com/webhook", "--events", "message.recieved")

    assert done.status == 1
    assert "unknown event types: message.recieved" in done.err
    assert subscriptions(live_env) == []


async def test_list_update_and_delete(live_env: Emulator) -> None:
    await linqbot("webhooks", "register", "https://bot.example.com/webhook")
    [sub] = subscriptions(live_env)
    sub_id = sub.id

    listed = await linqbot("webhooks", "list")
    assert listed.status == 0
    assert sub_id in listed.out and "active" in listed.out and "all lines" in listed.out

    moved = await linqbot("webhooks", "update", sub_id, "--url", "https://new.example.com/webhook", "--disable")
    assert moved.status == 0, moved.err
    assert sub.target_url == "https://new.example.com/webhook?version=2026-02-03"
    assert sub.is_active is False
    assert "INACTIVE" in (await linqbot("webhooks", "list")).out

    nothing = await linqbot("webhooks", "update", sub_id)
    assert nothing.status == 1 and "nothing to update" in nothing.err

    gone = await linqbot("webhooks", "delete", sub_id)
    assert gone.status == 0
    assert subscriptions(live_env) == []
    missing = await linqbot("webhooks", "delete", sub_id)
    assert missing.status == 1 and "404" in missing.err


async def test_a_wrong_key_is_reported_not_raised(live_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQ_API_KEY", "not-the-key")
    done = await linqbot("webhooks", "list")

    assert done.status == 1
    assert "401" in done.err


async def test_without_an_api_key_the_setting_is_named(workdir: Path) -> None:
    done = await linqbot("webhooks", "list")

    assert done.status == 2
    assert "LINQ_API_KEY is not set" in done.err
