"""Fault injection: 5xx rate and latency by method/path, 429 storms, message failures, seeded determinism."""

import time
from typing import Any

import httpx
import linq
import pytest

from linqbot.emulator import Emulator, FaultConfig, FaultRule
from tests.emulator.conftest import PERSON, Receiver

TEXT: Any = {"parts": [{"type": "text", "value": "Hello"}]}


async def test_error_rule_matches_method_and_path(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    emu.set_faults(
        FaultConfig(rules=[FaultRule(method="POST", path="/api/partner/v3/chats", error_rate=1.0, error_status=502)])
    )
    with pytest.raises(linq.InternalServerError) as caught:
        await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
    assert caught.value.status_code == 502 and caught.value.code == 3002
    await client.chats.list_chats()  # GET on the same path is untouched


async def test_latency_rule(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    emu.set_faults(FaultConfig(rules=[FaultRule(path="/api/partner/v3/phone_numbers", latency_ms=150)]))
    started = time.monotonic()
    await client.phone_numbers.list()
    assert time.monotonic() - started >= 0.15


async def test_rate_limit_storm_then_recovery(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    emu.set_faults(FaultConfig(rate_limit_storm=2, storm_retry_after=7))
    for _ in range(2):
        with pytest.raises(linq.RateLimitError) as caught:
            await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
        assert caught.value.retry_after == 7 and caught.value.response.headers["Retry-After"] == "7"
    await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)


async def test_message_failure_rate(emu: Emulator, client: linq.AsyncLinqAPIV3) -> None:
    emu.set_faults(FaultConfig(message_failure_rate=1.0, message_failure_code=4002))
    await client.chats.create(from_=emu.line, to=[PERSON], message=TEXT)
    failed = await emu.wait_for_message(status="failed")
    assert failed["failed_code"] == 4002


async def _error_pattern(seed: int) -> list[int]:
    faults = FaultConfig(seed=seed, rules=[FaultRule(path="/api/partner/v3/phone_numbers", error_rate=0.5)])
    async with Emulator(faults=faults) as emu:
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        async with httpx.AsyncClient(base_url=emu.url, headers=headers) as http:
            return [(await http.get("/api/partner/v3/phone_numbers")).status_code for _ in range(20)]


async def test_seeded_faults_are_deterministic() -> None:
    first, second = await _error_pattern(42), await _error_pattern(42)
    assert first == second and {200, 503} == set(first)


async def test_admin_routes_are_never_faulted(emu: Emulator) -> None:
    emu.set_faults(FaultConfig(rules=[FaultRule(path="*", error_rate=1.0)]))
    async with httpx.AsyncClient(base_url=emu.url) as http:
        assert (await http.delete("/_emulator/faults")).status_code == 200


async def test_webhook_delivery_delay(emu: Emulator, client: linq.AsyncLinqAPIV3, receiver: Receiver) -> None:
    await client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.received"])
    emu.set_faults(FaultConfig(webhook_delay_ms=200))
    started = time.monotonic()
    await emu.inbound(PERSON, "slow")
    await emu.wait_for(lambda: receiver.deliveries)
    assert time.monotonic() - started >= 0.2
