"""The durable inbox on its own and inside a bot: resume after restart, dedup retention, idempotent re-runs, latency."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import time
from pathlib import Path

import aiohttp
import pytest

from linqbot import Bot, Context, Safeguards
from linqbot.events import Event, parse_event
from linqbot.inbox import Inbox, InboxUnavailable, MemoryStore, StoredEvent, store_from_url
from linqbot.inbox.sqlite import SQLiteStore
from linqbot.testing import simulate
from tests.conftest import load_fixture, signed_headers, with_event_id


def message_body(chat: str, text: str, event_id: str | None = None) -> bytes:
    payload = with_event_id(load_fixture("message.received"), event_id=event_id, chat_id=chat)
    payload["data"]["parts"] = [{"type": "text", "value": text}]
    return json.dumps(payload).encode()


INBOX_URL = "sqlite:///{tmp}/inbox.db"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_unfinished_events_resume_after_a_restart_in_arrival_order_per_chat(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    first = SQLiteStore(path)
    await first.open()
    bodies = [message_body(f"chat-{n % 3}", str(n)) for n in range(12)]
    events = [parse_event(body) for body in bodies]
    for event, body in zip(events, bodies, strict=True):
        assert await first.add(StoredEvent(event.event_id, str(event.chat_id), body))
    for done in (0, 1, 3):  # the heads of chat-0 and chat-1, then chat-0's next
        head = await first.head(f"chat-{done % 3}")
        assert head is not None and head.event_id == events[done].event_id
        await first.finish(head)
    await first.close()  # as good as a crash: the rows are committed, nothing else is kept

    seen: list[tuple[str, str]] = []

    async def record(event: Event) -> None:
        seen.append((str(event.chat_id), event.message.text))  # type: ignore[attr-defined]

    inbox = Inbox(record, store=SQLiteStore(path))
    await inbox.start()
    assert await inbox.drain(5)
    await inbox.close()
    by_chat = {chat: [text for c, text in seen if c == chat] for chat in ("chat-0", "chat-1", "chat-2")}
    assert by_chat == {
        "chat-0": ["6", "9"],
        "chat-1": ["4", "7", "10"],
        "chat-2": ["2", "5", "8", "11"],
    }
    again = SQLiteStore(path)
    await again.open()
    assert await again.lanes() == [], "everything resumed was marked done"
    assert not await again.add(StoredEvent(events[5].event_id, "chat-2", bodies[5])), "ids are still remembered"
    await again.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_dedup_outlives_linqs_retry_window_then_is_pruned(kind: str, tmp_path: Path) -> None:
    clock = Clock()
    store = MemoryStore(retention=24 * 3600, clock=clock) if kind == "memory" else None
    if store is None:
        store = SQLiteStore(tmp_path / "inbox.db", retention=24 * 3600, clock=clock)
    await store.open()
    event = StoredEvent("evt-1", "chat", b"{}")
    assert await store.add(event)
    await store.finish(event)
    clock.now += 30 * 60  # Linq's last retry
    assert not await store.add(event)
    clock.now += 23 * 3600
    assert not await store.add(event), "still inside 24 h"
    clock.now += 3600
    assert await store.prune() == 1
    assert await store.add(event), "forgotten after the retention window"
    await store.close()


async def test_memory_dedup_takes_an_id_again_once_its_window_ran_out_even_before_it_was_pruned() -> None:
    clock = Clock()
    store = MemoryStore(retention=100, clock=clock)
    await store.open()
    first, second = StoredEvent("evt-1", "chat", b"{}"), StoredEvent("evt-2", "chat", b"{}")
    assert await store.add(first)
    await store.finish(first)
    clock.now += 50
    assert await store.add(second)
    await store.finish(second)
    clock.now += 60  # evt-1's window ran out, nothing pruned it yet; evt-2's has 40 s left
    assert await store.add(first), "a delivery after the window is a new one"
    await store.finish(first)
    assert not await store.add(second)
    clock.now += 50  # evt-2's window ran out; evt-1's second window has 50 s left
    assert await store.add(second)
    await store.finish(second)
    assert not await store.add(first), "evt-1 is remembered for a whole window from its second arrival"
    await store.close()


async def test_a_failed_commit_answers_unavailable_and_keeps_its_done_marks_for_the_next(tmp_path: Path) -> None:
    """Done marks are not awaited: when their commit fails they must be written by the next one, not dropped."""
    path = tmp_path / "inbox.db"
    store = SQLiteStore(path)
    await store.open()
    first = StoredEvent("evt-1", "chat", b"{}")
    assert await store.add(first)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file: the next commit fails ("database is locked")
    try:
        await store.finish(first)
        with pytest.raises(InboxUnavailable):
            await store.add(StoredEvent("evt-2", "chat", b"{}"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await store.add(StoredEvent("evt-2", "chat", b"{}")), "the refused accept was not stored"
    await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    head = await reopened.head("chat")
    assert head is not None and head.event_id == "evt-2", "evt-1's done mark reached the file with the next commit"
    assert not await reopened.add(first), "evt-1 is still remembered"
    await reopened.close()


def test_inbox_urls_are_checked_with_clear_errors(tmp_path: Path) -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    store = store_from_url(f"sqlite:///{tmp_path}/x.db?retention=3600&synchronous=normal")
    assert isinstance(store, SQLiteStore) and store.retention == 3600 and store.path == tmp_path / "x.db"
    with pytest.raises(ValueError, match="unknown inbox URL scheme"):
        store_from_url("postgres://db/x")
    with pytest.raises(ValueError, match="retention must be a number"):
        store_from_url("memory://?retention=soon")
    with pytest.raises(ValueError, match="unknown inbox URL option"):
        store_from_url(f"sqlite:///{tmp_path}/x.db?journal=off")


async def test_a_rerun_event_reuses_its_idempotency_keys_so_the_person_gets_one_reply() -> None:
    bot = Bot(env_file=None, plugins="-state,-scheduler,-outreach,-commands", safeguards=Safeguards.off())
    handled: list[Event] = []

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        handled.append(ctx.event)
        await ctx.reply(["one", "two"])

    async with simulate(bot) as sim:
        user = sim.user("+15550100002")
        await user.send("hi")
        first, second = await user.expect_replies(2)
        event_id = handled[0].event_id
        assert [first.raw["idempotency_key"], second.raw["idempotency_key"]] == [f"{event_id}:1", f"{event_id}:2"]
        await bot.process(handled[0])  # what a restart does with an event whose "done" mark was lost
        await sim.idle()
        assert len(handled) == 2
        assert [m.text for m in user.replies()] == ["one", "two"], "the emulator answered the re-run with originals"


async def test_webhook_answers_in_milliseconds_with_the_durable_sqlite_inbox(tmp_path: Path) -> None:
    """Disk writes happen on the writer thread in group commits; the event loop only waits for its commit."""
    bot = Bot(
        env_file=None,
        webhook_secret="whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA=",
        api_key="k",
        base_url="http://127.0.0.1:9/api/partner",
        inbox=INBOX_URL.format(tmp=tmp_path),
        plugins="-state,-scheduler,-outreach,-commands",
        safeguards=Safeguards.off(),
    )
    gate = asyncio.Event()

    @bot.on_message()
    async def wait(ctx: Context) -> None:
        await gate.wait()

    from aiohttp import web

    runner = web.AppRunner(bot.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:

            async def post(n: int) -> None:
                body = message_body(f"chat-{n % 50}", str(n))
                started = time.perf_counter()
                async with session.post(url, data=body, headers=signed_headers(body)) as response:
                    assert response.status == 200
                latencies.append(time.perf_counter() - started)

            for n in range(200):
                await post(n)
            one_at_a_time = sorted(latencies)
            latencies.clear()
            for batch in range(40):
                await asyncio.gather(*(post(1000 + batch * 20 + n) for n in range(20)))
        assert bot.inbox.pending == 1000
    finally:
        gate.set()
        await runner.cleanup()
    latencies.sort()
    single, p99 = statistics.median(one_at_a_time) * 1000, one_at_a_time[int(len(one_at_a_time) * 0.99)] * 1000
    loaded = statistics.median(latencies) * 1000
    print(
        f"\nwebhook latency with the SQLite inbox: one at a time p50={single:.1f} ms p99={p99:.1f} ms; "
        f"20 in flight p50={loaded:.1f} ms"
    )
    assert single < 15, f"median webhook answer took {single:.1f} ms"
