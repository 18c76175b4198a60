"""The HTTP/1.1 POST webhook deliveries go out on: kept-alive connections per origin, the status code as the answer.

A webhook sender needs a fraction of a general HTTP client (no cookies, redirects, proxies, auth, compression or
tracing), and every emulated message pays for a delivery or more: aiohttp's client spends about 485k instructions
per POST, this about a fifth of that. Redirects are not followed (a 3xx is the attempt's status, like any other).
The caller bounds each post with its own timeout; a cancelled post closes its connection.
"""

import asyncio
import ssl
from typing import cast

from yarl import URL

MAX_HEAD = 64 * 1024
Origin = tuple[str, str, int]
"""Scheme, host, port."""


class BadResponse(ValueError):
    """The receiver answered with something that is not an HTTP/1.x response."""


class Connection(asyncio.Protocol):
    """One connection to a receiver: sends a request, reads the status and skips the response body."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.reusable = False
        self._buffer = bytearray()
        self._answer: asyncio.Future[int] | None = None
        self._status = 0
        self._keep_alive = False
        self._in_body = False
        self._remaining: int | None = None
        """Body bytes still to skip; None while the body is chunked or ends with the connection."""
        self._chunked = False
        self._chunk_left = 0
        self._trailers = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._answer is None or self._answer.done():
            return
        if self._in_body and self._remaining is None and not self._chunked:
            self._finish()  # a body without length or chunking ends with the connection
        else:
            self._answer.set_exception(exc or ConnectionResetError("the receiver closed the connection mid-answer"))

    @property
    def open(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def send(self, request: bytes) -> asyncio.Future[int]:
        """Write one request; the future resolves to the response status once its body has been read."""
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self.reusable = self._in_body = self._chunked = self._trailers = False
        self._remaining, self._chunk_left = None, 0
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection is no longer in a known state
            return
        self._buffer += data
        try:
            self._read()
        except BadResponse as exc:
            self._answer.set_exception(exc)
            self.close()

    def _read(self) -> None:
        while not self._in_body:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise BadResponse("response head larger than 64 KiB")
                return
            head = self._buffer[:end].decode("latin-1")
            del self._buffer[: end + 4]
            self._read_head(head)
        if self._chunked:
            self._skip_chunks()
        elif self._remaining is None:
            self._buffer.clear()
        else:
            taken = min(len(self._buffer), self._remaining)
            del self._buffer[:taken]
            self._remaining -= taken
            if self._remaining == 0:
                self._finish()

    def _read_head(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise BadResponse(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(rest[:3])
        if status < 200:
            return  # an interim answer (103 Early Hints); the final one follows
        headers: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise BadResponse(f"malformed response header: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip().lower()
        self._status, self._in_body = status, True
        self._keep_alive = version == "HTTP/1.1" and headers.get("connection") != "close"
        if status in (204, 304):
            self._remaining = 0
        elif "chunked" in headers.get("transfer-encoding", ""):
            self._chunked = True
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise BadResponse(f"bad Content-Length: {length[:40]!r}")
            self._remaining = int(length)
        else:
            self._keep_alive = False

    def _skip_chunks(self) -> None:
        buffer = self._buffer
        while True:
            if self._chunk_left:
                taken = min(len(buffer), self._chunk_left)
                del buffer[:taken]
                self._chunk_left -= taken
                if self._chunk_left:
                    return
            end = buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if self._trailers:
                if not line:
                    self._finish()
                    return
                continue
            size = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(size, 16) + 2  # the data and its CRLF
            except ValueError:
                raise BadResponse(f"bad chunk size: {size[:20]!r}") from None
            if self._chunk_left == 2:
                self._chunk_left, self._trailers = 0, True

    def _finish(self) -> None:
        assert self._answer is not None
        self.reusable = self._keep_alive and not self.lost and not self._buffer
        self._answer.set_result(self._status)


class Poster:
    """POSTs bodies to receivers, reusing each origin's idle connections."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: URL, body: bytes, headers: dict[str, str]) -> int:
        """Send one POST and return the response status (after its body has been read)."""
        if not url.raw_host or url.port is None:
            raise ValueError(f"not a URL to deliver to: {url}")
        origin = (url.scheme, url.raw_host, url.port)
        connection = self._reuse(origin) or await self._connect(origin, url.host)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = f"POST {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host_port_subcomponent}\r\n{lines}"
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        try:
            status = await connection.send(request)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return status

    def _reuse(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.open:
                return connection
        return None

    async def _connect(self, origin: Origin, hostname: str | None) -> Connection:
        scheme, host, port = origin
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            Connection, host, port, ssl=tls, server_hostname=hostname if tls else None
        )
        return connection

    def close(self) -> None:
        """Close every idle connection (in-flight posts close theirs when cancelled)."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
