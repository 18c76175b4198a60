"""Loopback plumbing for the HTTP benchmarks: servers and the load generator, each in a process of its own.

A server process serves an aiohttp app on 127.0.0.1 plus ``GET /_bench/stats`` (what its handlers saw and the CPU
time it spent), and stops on SIGTERM. The load generator is wrk, a C client in a process of its own: it sends a fixed
list of pre-built requests (each exactly once) with bounded concurrency and then stops, spending far less CPU per
request than any Python server it measures, so the server's speed, not the client's, sets the pace.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import signal
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    """What the load generator saw for one batch: statuses of the answered requests, latency percentiles."""

    statuses: dict[int, int]
    answered: int
    wall_ns: int
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.answered / (self.wall_ns / 1e9)


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

WRK_SCRIPT = Path(__file__).with_name("wrk_deliveries.lua")
_RESULT_PREFIX = "linqbot-bench result "
_THREAD_DONE = "linqbot-bench thread-done"


class WrkMissing(RuntimeError):
    """The ingest benchmark needs wrk: a Python client cannot send fast enough to measure the servers."""

    def __init__(self) -> None:
        super().__init__(
            "the HTTP load generator `wrk` is not installed (Debian/Ubuntu: apt-get install wrk; macOS: brew install "
            "wrk). The benchmark does not fall back to a Python client: one Python process sends only ~2,000 "
            "requests/s on this kind of machine, which caps every server at that rate and hides their differences."
        )


def raw_request(url: str, delivery: Delivery) -> bytes:
    """``delivery`` as the bytes of one keep-alive HTTP/1.1 POST to ``url``."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(delivery.body)}"]
    lines += [f"{name}: {value}" for name, value in delivery.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + delivery.body


class LoadGenerator:
    """wrk (C, epoll) sending each delivery exactly once over ``concurrency`` keep-alive connections.

    One wrk thread by default: it needs a fraction of a core for the rates these servers reach, so the server keeps
    the other core. Raises `WrkMissing` when wrk is not on the PATH.
    """

    def __init__(self, threads: int = 1, cap_seconds: int = 300) -> None:
        executable = shutil.which("wrk")
        if executable is None:
            raise WrkMissing
        self._wrk = executable
        self._threads = threads
        self._cap = cap_seconds

    async def send(self, url: str, deliveries: Sequence[Delivery], concurrency: int) -> Load:
        """POST every delivery to ``url`` once (``concurrency`` connections) and return what came back."""
        threads = max(1, min(self._threads, len(deliveries)))
        with tempfile.NamedTemporaryFile(prefix="linqbot-bench-", suffix=".http") as file:
            for delivery in deliveries:
                request = raw_request(url, delivery)
                file.write(b"%d\n%s" % (len(request), request))
            file.flush()
            command = [self._wrk, f"-t{threads}", f"-c{max(concurrency, threads)}", f"-d{self._cap}s"]
            command += [f"--timeout={self._cap}s", "-s", str(WRK_SCRIPT), url, "--", file.name, str(threads)]
            output = await _run_until_threads_done(command, threads)
        for line in output:
            if line.startswith(_RESULT_PREFIX):
                result = json.loads(line.removeprefix(_RESULT_PREFIX))
                break
        else:
            raise RuntimeError("wrk printed no result:\n" + "\n".join(output))
        return Load(
            statuses={int(status): count for status, count in result["statuses"].items()},
            answered=result["answered"],
            wall_ns=result["wall_ns"],
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
        )


async def _run_until_threads_done(command: list[str], threads: int) -> list[str]:
    """Run wrk; once every thread reported done, SIGINT it (else it sleeps out ``-d``) and return its output."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    output: list[str] = []
    done = 0
    try:
        while line := (await process.stdout.readline()).decode():
            output.append(line.rstrip("\n"))
            if line.startswith(_THREAD_DONE):
                done += 1
                if done == threads:
                    process.send_signal(signal.SIGINT)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return output
