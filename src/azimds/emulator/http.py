"""A small, strict HTTP/1.1 server protocol for the emulator, on asyncio.

One protocol instance serves one connection: it parses requests (bounded sizes, keep-alive,
pipelining), asks its VM for a response, and carries out scripted faults that live at the
transport level (latency, reset, truncated body). Anything malformed gets a 4xx and the
connection is closed; nothing a client sends can crash the server.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote

from .routes import Request, Response, clip, error

if TYPE_CHECKING:
    from .server import VM

LOG = logging.getLogger("azimds.emulator")

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
IDLE_SECONDS = 120.0  # a connection silent this long is closed
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


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


class HTTPError(Exception):
    """A request that cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IMDSProtocol(asyncio.Protocol):
    """Serves HTTP requests on one connection for one emulated VM."""

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()
        self.busy = False  # a delayed response is pending; later requests wait their turn
        self.closing = False
        self.peer = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "-"
        self.vm.connections.add(self)
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.loop.call_later(IDLE_SECONDS, self._close_if_idle)

    def _close_if_idle(self) -> None:
        """Close a connection that sent nothing for IDLE_SECONDS (slow or stalled clients)."""
        if self.closing or self.transport is None:
            return
        quiet = self.loop.time() - self.last_activity
        if quiet >= IDLE_SECONDS and not self.busy:
            self.closing = True
            self.transport.close()
        else:
            self.loop.call_later(max(1.0, IDLE_SECONDS - quiet), self._close_if_idle)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closing = True
        self.vm.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        self.buffer += data
        self._process()

    def _process(self) -> None:
        while not self.busy and not self.closing:
            try:
                parsed = self._parse_one()
            except HTTPError as exc:
                self._reply(error(exc.status, exc.message), "-", "-", time.perf_counter(), True)
                return
            if parsed is None:
                return
            request, keep_alive, started = parsed
            self._serve(request, keep_alive, started)

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
            outcome = self.vm.respond(request)
        except Exception:  # a bug of ours must not drop the connection without an answer
            LOG.exception(
                "%s: error while answering %s %s",
                self.vm.name,
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
            self.busy = True
            self._pause()
            loop = asyncio.get_running_loop()
            loop.call_later(
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
        self.busy = False
        if self.closing:
            return
        self._reply(response, request.method, request, started, not keep_alive)
        self._resume()
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
            b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, "").encode()),
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
            self.vm.name,
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

    def _pause(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()


def _query_text(request: Request) -> str:
    return "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
