"""Loopback plumbing for the HTTP benchmarks: servers and the load generator, each in a process of its own.

A server process serves an aiohttp app on 127.0.0.1 plus ``GET /_bench/stats`` (what its handlers saw and the CPU
time it spent), and stops on SIGTERM. The load generator is a separate process too, so the client's own CPU time
never shares the server's core; it sends a fixed list of requests with bounded concurrency and then stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import socket
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp
from aiohttp import web

STATS_PATH = "/_bench/stats"
_CONTEXT = multiprocessing.get_context("spawn")

Stats = Callable[[], dict[str, Any]]
AppFactory = Callable[[], Awaitable[tuple[web.Application, Stats]]]


@dataclass(frozen=True)
class Delivery:
    """One pre-built request: its body and headers."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Load:
    """What the load generator saw for one batch."""

    statuses: dict[int, int]
    latencies_ns: list[int]
    wall_ns: int

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ns) / (self.wall_ns / 1e9)

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies_ns, q) / 1e6


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``values``, interpolated; ``statistics.quantiles`` needs ≥ 2 points."""
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[min(int(q * 1000) - 1, len(cuts) - 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- servers ---------------------------------------------------------------------------------------------------------


def _serve(factory: AppFactory, port: int, ready: Connection) -> None:
    asyncio.run(_serve_async(factory, port, ready))


async def _serve_async(factory: AppFactory, port: int, ready: Connection) -> None:
    app, stats = await factory()

    async def report(_: web.Request) -> web.Response:
        return web.json_response({**stats(), "cpu_s": time.process_time()})

    app.router.add_get(STATS_PATH, report)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready.send(True)
    await stop.wait()
    await runner.cleanup()


class ServerProcess:
    """An aiohttp app built by ``factory`` (a picklable module-level callable) in a spawned process.

    Starting returns at once; `wait_ready` waits for the port to listen (start several, then wait: see `start_all`).
    """

    def __init__(self, factory: AppFactory) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready, send = _CONTEXT.Pipe(duplex=False)
        self._process: BaseProcess = _CONTEXT.Process(target=_serve, args=(factory, self.port, send), daemon=True)
        self._process.start()

    def wait_ready(self, timeout: float = 120.0) -> None:
        if not self._ready.poll(timeout):
            self.stop()
            raise RuntimeError(f"bench server at {self.url} did not start within {timeout:.0f} s")
        self._ready.recv()

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.url + STATS_PATH) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def wait_until(
        self, session: aiohttp.ClientSession, done: Callable[[dict[str, Any]], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll the stats until ``done`` holds (the server finished its background work)."""
        deadline = time.monotonic() + timeout
        while not done(stats := await self.stats(session)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"bench server at {self.url} still busy after {timeout:.0f} s: {stats}")
            await asyncio.sleep(0.01)
        return stats

    def stop(self) -> None:
        if self._process.is_alive() and self._process.pid is not None:
            self._process.terminate()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def start_all(factories: Sequence[AppFactory]) -> list[ServerProcess]:
    """Start every server at once (imports overlap), then wait until all listen."""
    servers = [ServerProcess(factory) for factory in factories]
    try:
        for server in servers:
            server.wait_ready()
    except RuntimeError:
        for server in servers:
            server.stop()
        raise
    return servers


# -- load generator --------------------------------------------------------------------------------------------------


def _generate(requests: Connection) -> None:
    while (job := requests.recv()) is not None:
        url, deliveries, concurrency = job
        requests.send(asyncio.run(_send_all(url, deliveries, concurrency)))


async def _send_all(url: str, deliveries: list[Delivery], concurrency: int) -> Load:
    statuses: Counter[int] = Counter()
    latencies: list[int] = []
    pending = iter(deliveries)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for delivery in pending:
                start = time.perf_counter_ns()
                async with session.post(url, data=delivery.body, headers=delivery.headers) as response:
                    await response.read()
                latencies.append(time.perf_counter_ns() - start)
                statuses[response.status] += 1

        began = time.perf_counter_ns()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter_ns() - began
    return Load(dict(statuses), latencies, wall)


class LoadGenerator:
    """A client process that sends batches on request; reuse it across rounds, `close` it at the end."""

    def __init__(self) -> None:
        self._pipe, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(target=_generate, args=(child,), daemon=True)
        self._process.start()

    async def send(self, url: str, deliveries: list[Delivery], concurrency: int) -> Load:
        """POST every delivery to ``url`` (at most ``concurrency`` at a time) and return what came back."""
        self._pipe.send((url, deliveries, concurrency))
        result: Load = await asyncio.to_thread(self._pipe.recv)
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
