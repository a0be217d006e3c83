"""A small, strict HTTP/1.1 server protocol for the emulator, on asyncio.

One protocol instance serves one connection: it parses requests (bounded sizes, keep-alive,
pipelining), asks its responder for an answer, and carries out scripted faults that live at
the transport level (latency, reset, truncated body). Anything malformed gets a 4xx and the
connection is closed; nothing a client sends can crash the server or make it hold more than
a bounded amount of memory: while a client does not read its answers, its requests are not
read either.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Dict, List, Optional, Protocol, Set, Tuple
from urllib.parse import parse_qs, unquote

from .faults import Fault
from .routes import Request, Response, clip, error

LOG = logging.getLogger("azimds.emulator")

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
IDLE_SECONDS = 120.0  # a connection silent this long is closed
# Answers queued for a client beyond this many bytes stop the reading of its next requests.
WRITE_HIGH_WATER = 64 * 1024


@dataclass
class Outcome:
    """An answer to send, and the scripted fault (if any) the transport must carry out."""

    response: Response
    fault: Optional[Fault] = None


class Responder(Protocol):
    """What answers the requests of a connection (a VM behind its control API)."""

    name: str

    def respond(self, request: Request) -> Outcome:
        """Return the answer to ``request``."""


def reason(status: int) -> bytes:
    """Return the reason phrase of ``status`` for a status line (empty when it has none)."""
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


class _Date:
    """The Date header value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


_DATE = _Date()


class Connections:
    """The open connections of one emulator: idle ones closed by one sweep, all on shutdown.

    One periodic sweep (rather than a timer per connection) keeps nothing of a closed
    connection alive, however many were served.
    """

    def __init__(self, idle_seconds: Optional[float] = None) -> None:
        self.idle_seconds = IDLE_SECONDS if idle_seconds is None else idle_seconds
        self.open: Set[IMDSProtocol] = set()
        self._sweeper: Optional[asyncio.TimerHandle] = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start closing idle connections, checking a few times per idle period."""
        self._sweeper = loop.call_later(self._interval(), self._sweep, loop)

    def _interval(self) -> float:
        return min(1.0, self.idle_seconds / 4)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in list(self.open):
            connection.close_if_idle(now, self.idle_seconds)
        self._sweeper = loop.call_later(self._interval(), self._sweep, loop)

    def close_all(self) -> None:
        """Stop sweeping and drop every connection at once (shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self.open):
            connection.abort()


class HTTPError(Exception):
    """A request that cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IMDSProtocol(asyncio.Protocol):
    """Serves HTTP requests on one connection, answered by one responder."""

    def __init__(self, responder: Responder, connections: Connections) -> None:
        self.responder = responder
        self.connections = connections
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()
        self.closing = False
        self.peer = "-"
        self.last_activity = 0.0
        # Requests are read and answered only while nothing holds them back: a delayed
        # (latency fault) answer must go first, or the client is not reading its answers.
        self._delayed: Optional[asyncio.TimerHandle] = None
        self._client_not_reading = False
        self._reading = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "-"
        self.connections.open.add(self)
        self.last_activity = asyncio.get_running_loop().time()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closing = True
        if self._delayed is not None:
            self._delayed.cancel()
            self._delayed = None
        self.connections.open.discard(self)

    def close_if_idle(self, now: float, idle_seconds: float) -> None:
        """Close this connection when it sent nothing for ``idle_seconds`` and owes nothing."""
        if self._delayed is None and now - self.last_activity >= idle_seconds:
            self.abort()

    def abort(self) -> None:
        """Drop the connection now, unsent answers included."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def pause_writing(self) -> None:
        self._client_not_reading = True

    def resume_writing(self) -> None:
        self._client_not_reading = False
        self._process()

    def data_received(self, data: bytes) -> None:
        self.last_activity = asyncio.get_running_loop().time()
        self.buffer += data
        self._process()

    def _may_answer(self) -> bool:
        return not (self.closing or self._client_not_reading or self._delayed is not None)

    def _process(self) -> None:
        """Answer every complete request in the buffer that may be answered now."""
        while self._may_answer():
            try:
                parsed = self._parse_one()
            except HTTPError as exc:
                self._reply(error(exc.status, exc.message), "-", "-", time.perf_counter(), True)
                break
            if parsed is None:
                break
            request, keep_alive, started = parsed
            self._serve(request, keep_alive, started)
        self._read_only_if_answering()

    def _read_only_if_answering(self) -> None:
        """Read the next requests only while they may be answered: memory stays bounded."""
        wanted = self._may_answer()
        if self.transport is None or self.closing or wanted == self._reading:
            return
        self._reading = wanted
        if wanted:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _parse_one(self) -> Optional[Tuple[Request, bool, float]]:
        """Return the next complete request in the buffer, or None while it is incomplete.

        Raises:
            HTTPError: the request is malformed or too large.
        """
        end = self.buffer.find(b"\r\n\r\n")
        if end > MAX_HEAD or (end < 0 and len(self.buffer) > MAX_HEAD):
            raise HTTPError(431, "Request header fields too large")
        if end < 0:
            return None
        started = time.perf_counter()
        head = bytes(self.buffer[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
            raise HTTPError(400, "Bad request. Malformed request line")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise HTTPError(505, "HTTP version not supported; use HTTP/1.1")
        if not target.startswith("/"):
            raise HTTPError(400, "Bad request. Only origin-form targets are accepted (no proxies)")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                raise HTTPError(400, "Bad request. Malformed header line")
            key = name.lower()
            if key in headers and key in ("content-length", "host", "metadata"):
                raise HTTPError(400, f"Bad request. Header '{name}' given more than once")
            headers[key] = value.strip()
        if "transfer-encoding" in headers:
            raise HTTPError(501, "Transfer-Encoding is not supported; send Content-Length")
        length_text = headers.get("content-length", "0")
        if not (length_text.isascii() and length_text.isdigit()):  # not a superscript digit
            raise HTTPError(400, "Bad request. Content-Length must be a number")
        if len(length_text) > 9 or int(length_text) > MAX_BODY:  # int() refuses 4300+ digits
            raise HTTPError(413, f"Request body too large (limit {MAX_BODY} bytes)")
        length = int(length_text)
        if len(self.buffer) < end + 4 + length:
            return None
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        raw_path, _, raw_query = target.partition("?")
        try:
            query = parse_qs(raw_query, keep_blank_values=True, strict_parsing=False)
        except ValueError:
            raise HTTPError(400, "Bad request. Malformed query string") from None
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        request = Request(method, unquote(raw_path), query, headers, body)
        return request, keep_alive, started

    def _serve(self, request: Request, keep_alive: bool, started: float) -> None:
        try:
            outcome = self.responder.respond(request)
        except Exception:  # a bug of ours must not drop the connection without an answer
            LOG.exception(
                "%s: error while answering %s %s",
                self.responder.name,
                request.method,
                clip(request.path, 300),
            )
            self._reply(
                error(500, "Internal server error. The emulator failed; see its log"),
                request.method,
                request,
                started,
                close=True,
            )
            return
        fault = outcome.fault
        if fault is not None and fault.kind == "latency":
            self._delayed = asyncio.get_running_loop().call_later(
                fault.delay, self._finish_delayed, outcome.response, request, keep_alive, started
            )
            return
        if fault is not None and fault.kind == "reset":
            self._log(request, 0, started, note="reset")
            self._reset()
            return
        truncate = fault is not None and fault.kind == "truncate"
        self._reply(outcome.response, request.method, request, started, not keep_alive, truncate)

    def _finish_delayed(
        self, response: Response, request: Request, keep_alive: bool, started: float
    ) -> None:
        self._delayed = None
        if self.closing:
            return
        self._reply(response, request.method, request, started, not keep_alive)
        self._process()

    def _reply(
        self,
        response: Response,
        method: str,
        request: object,
        started: float,
        close: bool,
        truncate: bool = False,
    ) -> None:
        transport = self.transport
        if transport is None or self.closing:
            return
        body = response.body
        head: List[bytes] = [
            b"HTTP/1.1 %d %s\r\n" % (response.status, reason(response.status)),
            b"Content-Type: %s\r\n" % response.content_type.encode(),
            b"Content-Length: %d\r\n" % len(body),
            b"Date: %s\r\nServer: azimds-emulator\r\n" % _DATE.value(),
        ]
        for name, value in response.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        if close:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        if truncate:
            body = body[: len(body) // 2]  # a 1-byte body loses its byte
            close = True
        transport.write(b"".join(head) + (b"" if method == "HEAD" else body))
        if isinstance(request, Request):
            self._log(request, response.status, started, note="truncated" if truncate else "")
        if close:
            self.closing = True
            transport.close()

    def _log(self, request: Request, status: int, started: float, note: str = "") -> None:
        if not LOG.isEnabledFor(logging.INFO):
            return
        elapsed = (time.perf_counter() - started) * 1000
        target = request.path + ("?" + _query_text(request) if request.query else "")
        LOG.info(
            '%s %s "%s %s" %s %.2fms%s',
            self.responder.name,
            self.peer,
            request.method,
            clip(target, 300),
            status or "-",
            elapsed,
            f" ({note})" if note else "",
        )

    def _reset(self) -> None:
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.closing = True
        transport.abort()


def _query_text(request: Request) -> str:
    return "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
