"""A scripted stand-in for the Linq API on a real local aiohttp server.

Each test queues the responses a path should give; once the queue is empty the path answers with a
plausible 200 body. Every request is recorded so tests assert on what actually went over the wire.
"""

from __future__ import annotations

import json
import socket
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from linqbot.outbound import LinqClient, RetryPolicy

TRACE_ID = "2eff5df5c6f688733c007523c4d61cd9"
CHAT_ID = "8f6c2a1e-0b7d-4c55-9a3e-2d1f0c9b8a7e"
MESSAGE_ID = "3b9d7e2a-6c41-4f0e-8a15-7c2e9d0b1f64"
LINE = "+15550000001"

_MESSAGE = {"id": MESSAGE_ID, "created_at": "2026-05-14T16:02:11Z", "delivery_status": "queued", "parts": []}
_CHAT = {
    "id": CHAT_ID,
    "created_at": "2026-05-14T16:02:11Z",
    "updated_at": "2026-05-14T16:02:11Z",
    "handles": [],
    "is_group": False,
    "is_archived": False,
    "health_status": {"status": "HEALTHY", "doc_url": "https://docs.linqapp.com", "updated_at": None},
}
DEFAULT_BODIES: dict[tuple[str, str], Any] = {
    ("POST", f"/v3/chats/{CHAT_ID}/messages"): {"chat_id": CHAT_ID, "message": _MESSAGE},
    ("POST", "/v3/chats"): {"chat": {**_CHAT, "message": _MESSAGE}},
    ("POST", "/v3/messages"): {
        "chat_id": CHAT_ID,
        "created_new_chat": False,
        "from": LINE,
        "handles": [],
        "is_group": False,
        "message": _MESSAGE,
    },
    ("GET", f"/v3/chats/{CHAT_ID}"): _CHAT,
    ("PUT", f"/v3/chats/{CHAT_ID}"): {"chat_id": CHAT_ID, "status": "accepted"},
    ("POST", f"/v3/messages/{MESSAGE_ID}/reactions"): {"status": "accepted", "message": "ok"},
    ("POST", "/v3/capability/check_imessage"): {"address": "+15551234567", "available": True},
}


@dataclass
class Hit:
    method: str
    path: str
    headers: CIMultiDict[str]
    """Case-insensitive, as HTTP header names are (clients differ in the case they send)."""
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def error_body(status: int, code: int, message: str, *, retry_after: int | None = None) -> dict[str, Any]:
    """Linq's error envelope."""
    error: dict[str, Any] = {"status": status, "code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = retry_after
    return {"success": False, "error": error, "trace_id": TRACE_ID}


Response = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class FakeLinq:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.base_url = ""
        self._script: dict[tuple[str, str], deque[tuple[int, Any, dict[str, str]]]] = defaultdict(deque)
        self.bodies = dict(DEFAULT_BODIES)

    def script(self, method: str, path: str, *responses: Response) -> None:
        """Queue responses ``(status, body[, headers])`` for the next requests to ``method path``."""
        for response in responses:
            status, body, *rest = response
            self._script[(method, path)].append((status, body, rest[0] if rest else {}))

    def hits_to(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix("/api/partner")
        self.hits.append(Hit(request.method, path, CIMultiDict(request.headers), await request.read()))
        queue = self._script[(request.method, path)]
        default: tuple[int, Any, dict[str, str]] = (200, self.bodies.get((request.method, path)), {})
        status, body, headers = queue.popleft() if queue else default
        headers = {"X-Trace-ID": TRACE_ID, **headers}
        if body is None:
            return web.Response(status=204 if status == 200 else status, headers=headers)
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
async def linq_server(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> FakeLinq:
    fake = FakeLinq()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = await aiohttp_server(app)
    fake.base_url = str(server.make_url("/api/partner"))
    return fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def client(linq_server: FakeLinq, sleeps: list[float]) -> AsyncIterator[LinqClient]:
    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    linq = LinqClient(
        "test-key",
        linq_server.base_url,
        phone_number=LINE,
        retry=RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0),
        sleep=fake_sleep,
    )
    yield linq
    await linq.aclose()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on, so connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
