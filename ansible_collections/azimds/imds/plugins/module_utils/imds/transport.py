# GENERATED from src/azimds/imds/transport.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""One HTTP/1.1 GET to IMDS over a fresh connection, written on plain sockets.

Speaking HTTP on a plain socket means, by construction: no proxy (whatever ``HTTP_PROXY``
says), no redirect followed, no connection pool, and no import of ``http.client`` and the
``email`` package it drags in (a fifth of a command's start-up). The sockets are those of
``_socket``, the C module under ``socket``: the wrapper imports ``enum`` and ``selectors``
for features not used here (see azimds/__init__.py). The connect timeout, the read
timeout (per wait for data) and the call's deadline are all enforced, and the body is refused
once it grows past ``max_bytes``. Retrying is not done here: see ``retry.py`` and ``client.py``.

Standard library only, Python 3.8+: this module is shipped to Ansible targets.
"""

from __future__ import annotations

import _socket

from .errors import ResponseTooLarge
from .record import Record

TYPE_CHECKING = False  # typing is not imported at run time: see azimds/__init__.py
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, Optional, Tuple

_CHUNK = 64 * 1024
_MAX_HEAD = 64 * 1024  # status line and headers of one response


class Endpoint(Record):
    """Where IMDS listens: ``base_url`` is the normalized ``http://host:port``."""

    host: str
    port: int
    base_url: str


class Response(Record):
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


def parse_endpoint(url: str) -> Endpoint:
    """Return the Endpoint of a base URL such as ``http://169.254.169.254`` or ``http://127.0.0.1:8080``.

    Parsed by hand: urllib.parse (and the ipaddress module it loads) would cost start-up.

    Raises:
        ValueError: the URL is not ``http://HOST[:PORT]`` (IMDS speaks plain HTTP, no path).
    """
    text = url.strip()
    authority = text[len("http://") :] if text[:7].lower() == "http://" else ""
    if authority.endswith("/"):
        authority = authority[:-1]
    host, port = _host_and_port(authority)
    if not host or any(ch in authority for ch in "/?#@ \t") or not 1 <= port <= 65535:
        raise ValueError(
            f"IMDS endpoint {url!r} is not of the form http://HOST[:PORT] "
            "(e.g. http://169.254.169.254 or http://127.0.0.1:8080); fix the endpoint argument "
            "or AZIMDS_ENDPOINT"
        )
    host = host.lower()
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(host, port, f"http://{shown}:{port}")


def _host_and_port(authority: str) -> Tuple[str, int]:
    """Return (host, port) of ``host``, ``host:port`` or ``[v6]:port``; ("", -1) if neither."""
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = (authority[1:end], authority[end + 1 :]) if end > 0 else ("", "")
    else:
        host, sep, port_text = authority.partition(":")
        rest = sep + port_text
    if not rest:
        return host, 80
    digits = rest[1:]
    if rest[0] != ":" or not (digits.isascii() and digits.isdigit()) or len(digits) > 5:
        return "", -1
    return host, int(digits)


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


def get(
    endpoint: Endpoint,
    target: str,
    headers: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline_at: float,
    clock: Callable[[], float],
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
    except _socket.timeout:
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
    except _socket.timeout:
        raise TransportError(f"timed out {phase}") from None
    except OSError as exc:
        raise TransportError(f"network error {phase}: {_describe(exc)}") from None
    finally:
        sock.close()
    return Response(status, reason, headers_in, body)


def _connect(endpoint: Endpoint, timeout: float) -> _socket.socket:
    """Return a socket connected to ``endpoint``, trying each of its addresses in turn.

    An IP literal (169.254.169.254, 127.0.0.1) is connected to directly: no name lookup, and
    none of the IDNA codec that ``getaddrinfo`` loads for every host name string.
    """
    family = _ip_family(endpoint.host)
    if family is None:
        found = _socket.getaddrinfo(endpoint.host, endpoint.port, 0, _socket.SOCK_STREAM)
        candidates = [(info[0], info[4]) for info in found]
    else:
        candidates = [(family, (endpoint.host, endpoint.port))]
    error: Optional[OSError] = None
    for family, address in candidates:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
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
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
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
        sock: _socket.socket,
        read_timeout: float,
        deadline_at: float,
        clock: Callable[[], float],
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
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
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
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise TransportError("invalid HTTP response (bad chunk size)") from None
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
    sock: _socket.socket, read_timeout: float, deadline_at: float, clock: Callable[[], float]
) -> None:
    remaining = deadline_at - clock()
    if remaining <= 0:
        raise TransportError("deadline reached while waiting for IMDS")
    wanted = min(read_timeout, remaining)
    current = sock.gettimeout()
    # Set it when it is still the connect timeout, or when the deadline has come closer.
    if current is None or wanted < current or current < read_timeout:
        sock.settimeout(wanted)


def _content_length(headers: Mapping[str, str]) -> Optional[int]:
    value = headers.get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        return None
    return int(value)


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return exc.strerror or type(exc).__name__
