"""Fixtures for the state plugin: a controllable clock, a real redis-server, and one store per backend."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from linqbot_state import MemoryStore, RedisStore, SqliteStore, StateStore

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
BACKENDS = ["memory", "sqlite", "redis"]
PERSISTENT = ["sqlite", "redis"]


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(port: int, server: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, without persistence, in a temp folder; stopped afterwards."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI installs it")
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    no_persistence = ["--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), *no_persistence],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(port, server)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


StoreFactory = Callable[[], StateStore]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def make_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreFactory]:
    """Builds stores of the test's backend that share one backing (same file, same Redis prefix): a second store
    is another process — or the same bot after a restart."""
    made: list[StateStore] = []
    memory = MemoryStore(clock=clock)
    prefix = f"test:{uuid.uuid4().hex}:"
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""

    def make() -> StateStore:
        store: StateStore
        if backend == "memory":
            store = memory
        elif backend == "sqlite":
            store = SqliteStore(tmp_path / "state.db", clock=clock)
        else:
            store = RedisStore(url, prefix=prefix, clock=clock)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> StateStore:
    store = make_store()
    await store.open()
    return store
