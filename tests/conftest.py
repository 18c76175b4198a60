"""Shared test helpers: the Linq reference fixtures and webhook signing as Linq does it."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from linqbot.webhook import sign_legacy, sign_standard

pytest_plugins = ["tests.browser", "tests.redis_fixture"]  # the `browser` and `redis_server` fixtures

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("LINQ_FIXTURES_DIR", REPO.parent / "shared" / "linq-api" / "fixtures"))
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def event_fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith(("response.", "error-")))


def signed_headers(
    body: bytes,
    *,
    secret: str = SECRET,
    scheme: str = "standard",
    timestamp: int | None = None,
    msg_id: str | None = None,
) -> dict[str, str]:
    """Headers of a delivery signed the way Linq signs it (``standard`` or ``legacy`` scheme)."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/json"}
    if scheme == "standard":
        mid = msg_id or f"msg_{uuid.uuid4().hex}"
        headers.update(
            {
                "webhook-id": mid,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign_standard(secret, mid, ts, body),
            }
        )
    else:
        headers.update({"X-Webhook-Timestamp": str(ts), "X-Webhook-Signature": sign_legacy(secret, ts, body)})
    return headers


def with_event_id(payload: dict[str, Any], event_id: str | None = None, chat_id: str | None = None) -> dict[str, Any]:
    """A copy of ``payload`` with a fresh (or given) event id and optionally another chat id."""
    copy = json.loads(json.dumps(payload))
    copy["event_id"] = event_id or str(uuid.uuid4())
    if chat_id is not None:
        data = copy["data"]
        if isinstance(data.get("chat"), dict):
            data["chat"]["id"] = chat_id
        else:
            data["chat_id"] = chat_id
    return copy


@pytest.fixture
def linq_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean environment with test settings, so the developer's own LINQ_* variables never leak in."""
    for name in list(os.environ):
        if name.startswith(("LINQ_", "LINQBOT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LINQ_API_KEY", "test-key")
    monkeypatch.setenv("LINQ_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("LINQ_BASE_URL", "http://127.0.0.1:9/api/partner")
