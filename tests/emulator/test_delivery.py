"""The webhook POST client against raw loopback receivers: keep-alive, every body framing, interim answers,
no redirects, and failures that reach the caller (so the dispatcher logs and retries them)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from yarl import URL

from linqbot.emulator.delivery import BadResponse, Poster

BODY = b'{"event_type": "message.received"}'
HANG = b""
"""An answer that never comes."""


@dataclass
class Received:
    head: str
    body: bytes


@dataclass
class RawReceiver:
    """Answers each request with the next scripted bytes (None: close without answering)."""

    answers: list[bytes | None]
    url: URL = field(default_factory=URL)
    requests: list[Received] = field(default_factory=list)
    connections: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                length = next(
                    int(line.split(":")[1]) for line in head.split("\r\n") if line.startswith("Content-Length")
                )
                self.requests.append(Received(head, await reader.readexactly(length)))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                if answer == HANG:
                    await reader.read()  # until the client gives up and closes
                    break
                for byte in range(len(answer)):  # one byte at a time: every split point of the framing
                    writer.write(answer[byte : byte + 1])
                    await writer.drain()
                if b"Content-Length" not in answer and b"chunked" not in answer and b" 204 " not in answer:
                    break  # the body ends with the connection
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def poster() -> AsyncIterator[Poster]:
    poster = Poster()
    yield poster
    poster.close()


async def receiver(*answers: bytes | None) -> tuple[RawReceiver, asyncio.Server]:
    script = RawReceiver(list(answers))
    server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
    script.url = URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?version=2026-02-03")
    return script, server


async def test_kept_alive_connection_carries_every_post_and_the_exact_request(poster: Poster) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    script, server = await receiver(ok, ok, b"HTTP/1.1 204 No Content\r\n\r\n")
    async with server:
        statuses = [await poster.post(script.url, BODY, {"webhook-id": f"evt-{n}"}) for n in range(3)]
    assert statuses == [200, 200, 204]
    assert script.connections == 1
    first = script.requests[0]
    assert first.head.startswith("POST /hook?version=2026-02-03 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{script.url.port}\r\n" in first.head and "webhook-id: evt-0\r\n" in first.head
    assert first.body == BODY


async def test_chunked_answer_with_trailers_is_read_to_its_end(poster: Poster) -> None:
    chunked = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nfine\r\n0\r\nX-Done: 1\r\n\r\n"
    script, server = await receiver(chunked, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    async with server:
        assert await poster.post(script.url, BODY, {}) == 202
        assert await poster.post(script.url, BODY, {}) == 200
    assert script.connections == 1


async def test_body_ended_by_the_close_then_a_new_connection(poster: Poster) -> None:
    script, server = await receiver(b"HTTP/1.0 200 OK\r\n\r\nbye", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    async with server:
        assert await poster.post(script.url, BODY, {}) == 200
        assert await poster.post(script.url, BODY, {}) == 200
    assert script.connections == 2


async def test_interim_answer_is_skipped_and_redirects_are_not_followed(poster: Poster) -> None:
    script, server = await receiver(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"
    )
    async with server:
        assert await poster.post(script.url, BODY, {}) == 302
    assert len(script.requests) == 1


async def test_failures_reach_the_caller_and_the_next_post_starts_afresh(poster: Poster) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    script, server = await receiver(None, b"SMTP ready\r\n\r\n", HANG, ok)
    async with server:
        with pytest.raises(ConnectionResetError):
            await poster.post(script.url, BODY, {})
        with pytest.raises(BadResponse):
            await poster.post(script.url, BODY, {})
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await poster.post(script.url, BODY, {})
        assert await poster.post(script.url, BODY, {}) == 200
    assert script.connections == 4


async def test_unreachable_receiver_is_an_os_error(poster: Poster) -> None:
    _, server = await receiver()
    url = URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook")
    server.close()
    await server.wait_closed()
    with pytest.raises(OSError):
        await poster.post(url, BODY, {})
