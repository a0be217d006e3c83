# GENERATED from src/azimds/imds/transport.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""One HTTP/1.1 GET to IMDS over a fresh connection, written on a plain socket.

A plain socket means, by construction: no proxy (whatever ``HTTP_PROXY`` says), no redirect
followed, no connection pool, and none of the ``http.client`` and ``email`` imports that
would cost a command more start-up time than the whole request. The connect timeout, the read
timeout (per wait for data) and the call's deadline are all enforced, and the body is refused
once it grows past ``max_bytes``. Numbers in the response (status, lengths, chunk sizes) are
read as ASCII digits only. Retrying is not done here: see ``retry.py`` and ``client.py``.

``get`` is the client's default ``Send``; a test may give the client another one.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import socket
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Protocol, Tuple

from .endpoint import Endpoint as Endpoint
from .endpoint import parse_endpoint as parse_endpoint
from .errors import ResponseTooLarge
from .paths import is_ascii_digits
from .retry import Clock

_CHUNK = 64 * 1024
_MAX_HEAD = 64 * 1024  # status line and headers of one response
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class Response(NamedTuple):
    """A complete HTTP response: status, reason, headers (lower-case names) and the body."""

    status: int
    reason: str
    headers: Dict[str, str]
    body: bytes


class TransportError(Exception):
    """No usable response came back (timeout, refused, reset, cut short); worth retrying.

    ``outcome`` is a short phrase for the list of attempts, e.g. "connection refused".
    """

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        super().__init__(outcome)


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def percent_encode(text: str) -> str:
    """Return ``text`` with every character but the unreserved ones as UTF-8 %XX escapes."""
    return "".join(
        ch if ch in _UNRESERVED else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in text
    )


def query_string(params: Mapping[str, str]) -> str:
    """Return ``name=value&...`` with names and values percent-encoded."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())


class Send(Protocol):
    """The signature of ``get``: how the client sends one request (tests may pass their own)."""

    def __call__(
        self,
        endpoint: Endpoint,
        target: str,
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        deadline_at: float,
        clock: Clock,
        max_bytes: int,
    ) -> Response: ...


def get(
    endpoint: Endpoint,
    target: str,
    headers: Mapping[str, str],
    *,
    connect_timeout: float,
    read_timeout: float,
    deadline_at: float,
    clock: Clock,
    max_bytes: int,
) -> Response:
    """Send one GET for ``target`` (path and query) and return the whole response.

    Args:
        endpoint: where to connect.
        target: the request target, e.g. ``/metadata/instance?api-version=2021-02-01``.
        headers: request headers to send.
        connect_timeout: seconds allowed to connect.
        read_timeout: seconds allowed for each wait for data once connected.
        deadline_at: ``clock()`` time by which the response must be complete.
        clock: a monotonic clock in seconds.
        max_bytes: the largest body accepted.

    Returns:
        The response, whatever its status (redirects are returned, not followed).

    Raises:
        TransportError: no complete response (timeout, deadline, refused, reset, cut short,
            not HTTP).
        ResponseTooLarge: the body is, or announces itself, larger than ``max_bytes``.
    """
    remaining = deadline_at - clock()
    if remaining <= 0:
        raise TransportError("deadline reached before connecting")
    waited = min(connect_timeout, remaining)
    try:
        sock = _connect(endpoint, waited)
    except socket.timeout:  # an alias of TimeoutError from Python 3.10 on
        raise TransportError(f"timed out connecting ({waited:g}s)") from None
    except OSError as exc:
        raise TransportError(f"cannot connect: {_describe(exc)}") from None
    reader = _Reader(sock, read_timeout, deadline_at, clock)
    phase = "sending the request"
    try:
        _set_timeout(sock, read_timeout, deadline_at, clock)
        sock.sendall(_request(endpoint, target, headers))
        phase = "waiting for the response"
        status, reason, headers_in = _read_head(reader)
        phase = "reading the body"
        body = _read_body(reader, status, headers_in, endpoint.base_url + target, max_bytes)
    except socket.timeout:
        raise TransportError(f"timed out {phase}") from None
    except OSError as exc:
        raise TransportError(f"network error {phase}: {_describe(exc)}") from None
    finally:
        sock.close()
    return Response(status, reason, headers_in, body)


def _connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    """Return a socket connected to ``endpoint``, trying each of its addresses in turn.

    An IP literal (169.254.169.254, 127.0.0.1) is connected to directly, without a name lookup.
    """
    family = _ip_family(endpoint.host)
    candidates: List[Tuple[int, Any]]  # (address family, socket address)
    if family is None:
        found = socket.getaddrinfo(endpoint.host, endpoint.port, 0, socket.SOCK_STREAM)
        candidates = [(info[0], info[4]) for info in found]
    else:
        candidates = [(family, (endpoint.host, endpoint.port))]
    error: Optional[OSError] = None
    for family, address in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:  # timeouts too: the next address may answer
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error or OSError(f"no address found for {endpoint.host}")


def _ip_family(host: str) -> Optional[int]:
    """Return AF_INET or AF_INET6 when ``host`` is an IP literal, else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


def _request(endpoint: Endpoint, target: str, headers: Mapping[str, str]) -> bytes:
    """Return the bytes of a GET request; ``Connection: close`` ends the body at EOF too.

    Raises:
        ValueError: the target or a header holds a line break or a non-ASCII character.
    """
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    if endpoint.port != 80:
        host = f"{host}:{endpoint.port}"
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if any("\r" in line or "\n" in line for line in lines):
        raise ValueError("a request line or header contains a line break")
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode("ascii")


class _Reader:
    """Buffered reads from a socket, each wait bounded by the read timeout and the deadline."""

    def __init__(
        self,
        sock: socket.socket,
        read_timeout: float,
        deadline_at: float,
        clock: Clock,
    ) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.read_timeout = read_timeout
        self.deadline_at = deadline_at
        self.clock = clock
        self.eof = False

    def fill(self) -> bool:
        """Read more into the buffer; return False at the end of the stream."""
        if self.eof:
            return False
        _set_timeout(self.sock, self.read_timeout, self.deadline_at, self.clock)
        chunk = self.sock.recv(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def line(self, limit: int) -> Optional[bytes]:
        """Return the next CRLF-terminated line (without it), or None at the end of the stream."""
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if len(self.buffer) > limit:
                raise TransportError("invalid HTTP response (a line is too long)")
            if not self.fill():
                return None

    def head(self, limit: int) -> Optional[bytes]:
        """Return the status line and headers up to the empty line (without it), or None when
        the stream ends first.

        Raises:
            TransportError: they grow past ``limit`` bytes, or the stream ends inside them.
        """
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if 0 <= end <= limit:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if end > limit or len(self.buffer) > limit:
                raise TransportError(f"invalid HTTP response (headers over {limit // 1024} KiB)")
            if not self.fill():
                if self.buffer:
                    raise TransportError("connection closed in the middle of the response headers")
                return None

    def take(self, count: int) -> bytes:
        """Return up to ``count`` bytes, fewer only at the end of the stream."""
        while len(self.buffer) < count and self.fill():
            pass
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data


def _read_head(reader: _Reader) -> Tuple[int, str, Dict[str, str]]:
    """Return (status, reason, headers with lower-case names) of the final response."""
    while True:
        head = reader.head(_MAX_HEAD)
        if head is None:
            raise TransportError("connection closed without a response")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not _is_status(parts[1]):
            raise TransportError("invalid HTTP response (not an HTTP/1.x status line)")
        status, reason = int(parts[1]), (parts[2] if len(parts) > 2 else "")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise TransportError("invalid HTTP response (a header line without ':')")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if not 100 <= status < 200:  # an interim 1xx answer is followed by the real one
            return status, reason, headers


def _read_body(
    reader: _Reader, status: int, headers: Dict[str, str], shown_url: str, max_bytes: int
) -> bytes:
    if status in (204, 304):
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(reader, shown_url, max_bytes)
    announced = _content_length(headers)
    if announced is not None:
        if announced > max_bytes:
            raise ResponseTooLarge(shown_url, max_bytes, announced)
        body = reader.take(announced)
        if len(body) < announced:
            raise TransportError(f"body cut short: {len(body)} of {announced} bytes")
        return body
    while reader.fill():  # no length: the body ends when the connection does
        if len(reader.buffer) > max_bytes:
            raise ResponseTooLarge(shown_url, max_bytes)
    if len(reader.buffer) > max_bytes:
        raise ResponseTooLarge(shown_url, max_bytes)
    return reader.take(len(reader.buffer))


def _read_chunked(reader: _Reader, shown_url: str, max_bytes: int) -> bytes:
    parts: List[bytes] = []
    received = 0
    while True:
        size_line = reader.line(1024)
        if size_line is None:
            raise TransportError(f"body cut short after {received} bytes (chunked)")
        size = _chunk_size(size_line.split(b";", 1)[0].strip())
        if size is None:
            raise TransportError("invalid HTTP response (bad chunk size)")
        if size == 0:
            while reader.line(_MAX_HEAD):  # trailers, up to the empty line
                pass
            return b"".join(parts)
        received += size
        if received > max_bytes:
            raise ResponseTooLarge(shown_url, max_bytes)
        chunk = reader.take(size + 2)
        if len(chunk) < size + 2:
            raise TransportError(f"body cut short after {received - size + len(chunk)} bytes")
        parts.append(chunk[:size])


def _set_timeout(
    sock: socket.socket, read_timeout: float, deadline_at: float, clock: Clock
) -> None:
    remaining = deadline_at - clock()
    if remaining <= 0:
        raise TransportError("deadline reached while waiting for IMDS")
    wanted = min(read_timeout, remaining)
    current = sock.gettimeout()
    # Set it when it is still the connect timeout, or when the deadline has come closer.
    if current is None or wanted < current or current < read_timeout:
        sock.settimeout(wanted)


def _is_status(text: str) -> bool:
    """Return True for a status code: three ASCII digits (``isdigit`` alone accepts ``²``)."""
    return len(text) == 3 and is_ascii_digits(text)


def _chunk_size(text: bytes) -> Optional[int]:
    """Return the size of a chunk-size field: hexadecimal digits only, no sign, no prefix.

    ``int(text, 16)`` alone would accept ``-6``, ``+6``, ``0x6`` and ``6_0``: a negative size
    would lower the running total and let a body past the size cap.
    """
    digits = text.decode("latin-1")
    if not digits or not _HEX_DIGITS.issuperset(digits):
        return None
    return int(digits, 16)


def _content_length(headers: Mapping[str, str]) -> Optional[int]:
    value = headers.get("content-length", "").strip()
    if not is_ascii_digits(value) or len(value) > 15:
        return None
    return int(value)


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return exc.strerror or type(exc).__name__
