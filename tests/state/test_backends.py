"""One suite, every backend: memory, SQLite and a real redis-server behave the same."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from linqbot_state import SqliteStore, StateStore

from tests.state.conftest import FakeClock, StoreFactory

CHAT = "chat:c1"


async def test_values_round_trip_as_json(store: StateStore) -> None:
    assert await store.get(CHAT, "missing") is None
    assert await store.get(CHAT, "missing", "fallback") == "fallback"
    profile = {"name": "Zoë", "tags": ["a", "b"], "age": 30, "ok": True, "none": None}
    await store.set(CHAT, "profile", profile)
    await store.set(CHAT, "pair", (1, 2))
    assert await store.get(CHAT, "profile") == profile
    assert await store.get(CHAT, "pair") == [1, 2]  # what JSON makes of a tuple, on every backend
    assert await store.items(CHAT) == {"profile": profile, "pair": [1, 2]}


async def test_returned_values_are_copies(store: StateStore) -> None:
    await store.set(CHAT, "cart", ["apple"])
    cart = await store.get(CHAT, "cart")
    cart.append("pear")
    assert await store.get(CHAT, "cart") == ["apple"]


async def test_a_value_that_is_not_json_is_refused_and_loses_nothing(store: StateStore) -> None:
    await store.set(CHAT, "kept", 1)
    with pytest.raises(TypeError, match="'bad' is not JSON-serialisable"):
        await store.set(CHAT, "bad", {1, 2})
    with pytest.raises(TypeError, match="'nan' is not JSON-serialisable"):
        await store.update(CHAT, {"nan": float("nan")})
    assert await store.items(CHAT) == {"kept": 1}


async def test_bad_keys_and_ttls_are_refused(store: StateStore) -> None:
    with pytest.raises(TypeError, match="non-empty string"):
        await store.set(CHAT, "", 1)
    with pytest.raises(TypeError, match="non-empty string"):
        await store.update(CHAT, lambda s: {**s, 3: "x"})  # type: ignore[dict-item]
    for ttl in (0, -1, float("inf"), "10", True):
        with pytest.raises(ValueError, match="ttl must be"):
            await store.set(CHAT, "k", 1, ttl=ttl)  # type: ignore[arg-type]
    assert await store.items(CHAT) == {}


async def test_keys_expire_after_their_ttl(store: StateStore, clock: FakeClock) -> None:
    await store.set(CHAT, "code", "1234", ttl=60)
    await store.set(CHAT, "name", "Ann")
    clock.advance(59.9)
    assert await store.get(CHAT, "code") == "1234"
    clock.advance(0.2)
    assert await store.get(CHAT, "code") is None
    assert await store.items(CHAT) == {"name": "Ann"}
    assert await store.delete(CHAT, "code") is False


async def test_a_scope_whose_keys_all_expired_reads_empty(store: StateStore, clock: FakeClock) -> None:
    await store.set(CHAT, "a", 1, ttl=5)
    await store.set(CHAT, "b", 2, ttl=10)
    clock.advance(11)
    assert await store.items(CHAT) == {}
    await store.set(CHAT, "c", 3)
    assert await store.items(CHAT) == {"c": 3}


async def test_setting_again_replaces_the_expiry(store: StateStore, clock: FakeClock) -> None:
    await store.set(CHAT, "k", 1, ttl=5)
    await store.set(CHAT, "k", 2)
    clock.advance(3600)
    assert await store.get(CHAT, "k") == 2


async def test_update_merges_a_dict(store: StateStore) -> None:
    await store.set(CHAT, "a", 1)
    assert await store.update(CHAT, {"b": 2}) == {"a": 1, "b": 2}
    assert await store.items(CHAT) == {"a": 1, "b": 2}


async def test_update_with_a_function_may_mutate_or_return_and_drops_left_out_keys(store: StateStore) -> None:
    await store.update(CHAT, {"a": 1, "b": 2})

    def bump(state: dict[str, Any]) -> None:
        state["a"] += 10

    assert await store.update(CHAT, bump) == {"a": 11, "b": 2}
    assert await store.update(CHAT, lambda state: {"b": state["b"] * 2}) == {"b": 4}
    assert await store.items(CHAT) == {"b": 4}
    assert await store.update(CHAT, lambda state: {}) == {}
    assert await store.items(CHAT) == {}


async def test_update_gives_changed_keys_its_ttl_and_keeps_the_others_expiry(
    store: StateStore, clock: FakeClock
) -> None:
    await store.set(CHAT, "short", "s", ttl=10)
    await store.set(CHAT, "forever", "f")
    await store.update(CHAT, lambda s: {**s, "new": "n"}, ttl=100)
    clock.advance(11)
    assert await store.items(CHAT) == {"forever": "f", "new": "n"}
    clock.advance(90)
    assert await store.items(CHAT) == {"forever": "f"}


async def test_a_failing_update_changes_nothing(store: StateStore) -> None:
    await store.set(CHAT, "n", 1)

    def broken(state: dict[str, Any]) -> dict[str, Any]:
        state["n"] = 99
        raise LookupError("boom")

    with pytest.raises(LookupError):
        await store.update(CHAT, broken)
    with pytest.raises(TypeError, match="returns a dict or None"):
        await store.update(CHAT, lambda state: [1])  # type: ignore[arg-type,return-value]
    assert await store.items(CHAT) == {"n": 1}


async def test_concurrent_increments_never_lose_a_write(store: StateStore) -> None:
    def increment(state: dict[str, Any]) -> None:
        state["n"] = state.get("n", 0) + 1

    await asyncio.gather(*(store.update(CHAT, increment) for _ in range(200)))
    assert await store.get(CHAT, "n") == 200


async def test_two_stores_on_one_backing_increment_atomically(make_store: StoreFactory) -> None:
    """Two store objects are two processes (or replicas) sharing the file or the Redis server."""
    first, second = make_store(), make_store()

    def increment(state: dict[str, Any]) -> None:
        state["n"] = state.get("n", 0) + 1

    await asyncio.gather(*(store.update(CHAT, increment) for _ in range(100) for store in (first, second)))
    assert await first.get(CHAT, "n") == 200
    assert await second.get(CHAT, "n") == 200


async def test_two_sqlite_stores_creating_one_file_at_once_both_work(tmp_path: Path) -> None:
    """Two processes starting together on a new state file: SQLite refused one of them at once ("database is
    locked") while both switched it to WAL — about one start in three."""
    for race in range(20):
        path = tmp_path / f"state-{race}.db"
        first, second = SqliteStore(path), SqliteStore(path)
        await asyncio.gather(first.set(CHAT, "by", "first"), second.set(CHAT, "also", "second"))
        assert await first.items(CHAT) == {"by": "first", "also": "second"}
        await first.close()
        await second.close()


async def test_delete_and_clear(store: StateStore) -> None:
    await store.update(CHAT, {"a": 1, "b": 2})
    assert await store.delete(CHAT, "a") is True
    assert await store.delete(CHAT, "a") is False
    assert await store.items(CHAT) == {"b": 2}
    await store.clear(CHAT)
    assert await store.items(CHAT) == {}
    await store.clear(CHAT)  # clearing nothing is fine


async def test_scopes_are_separate(store: StateStore) -> None:
    chat, other_chat, person = store.chat("c1"), store.chat("c2"), store.person("+15550100002")
    await chat.set("lang", "fr")
    await person.set("lang", "en")
    assert await other_chat.get("lang") is None
    assert await chat.get("lang") == "fr"
    assert await person.get("lang") == "en"
    await chat.clear()
    assert await person.get("lang") == "en"


async def test_flow_state(store: StateStore, clock: FakeClock) -> None:
    assert await store.get_flow("c1", "+15550100002") is None
    await store.set_flow("c1", "+15550100002", "ask_name", ttl=30)
    assert await store.get_flow("c1", "+15550100002") == "ask_name"
    assert await store.get_flow("c1", "+15550100003") is None
    assert await store.get_flow("c2", "+15550100002") is None
    clock.advance(31)
    assert await store.get_flow("c1", "+15550100002") is None
    await store.set_flow("c1", "+15550100002", "ask_age")
    await store.clear_flow("c1", "+15550100002")
    assert await store.get_flow("c1", "+15550100002") is None
    for bad in ("", "*"):
        with pytest.raises(ValueError, match="flow state"):
            await store.set_flow("c1", "+15550100002", bad)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_state_survives_a_restart(make_store: StoreFactory, clock: FakeClock) -> None:
    before = make_store()
    await before.set(CHAT, "name", "Ann")
    await before.set(CHAT, "otp", "42", ttl=30)
    await before.set_flow("c1", "+15550100002", "ask_age")
    await before.close()

    after = make_store()
    await after.open()
    assert await after.items(CHAT) == {"name": "Ann", "otp": "42"}
    assert await after.get_flow("c1", "+15550100002") == "ask_age"
    clock.advance(31)
    assert await after.items(CHAT) == {"name": "Ann"}
