"""One HTTP GET to IMDS over a fresh connection, with ``http.client`` and nothing else.

Using ``http.client`` directly means, by construction: no proxy (whatever ``HTTP_PROXY`` says),
no redirect followed, no connection pool. The connect timeout, the read timeout (per wait for
data) and the call's deadline are all enforced, and the body is refused once it grows past
``max_bytes``. Retrying is not done here: see ``retry.py`` and ``client.py``.

Standard library only, Python 3.8+: this module is shipped to Ansible targets.
"""

from __future__ import annotations

import functools
import http.client
import socket
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit

from .errors import ResponseTooLarge

_CHUNK = 64 * 1024


class Endpoint(NamedTuple):
    """Where IMDS listens: ``base_url`` is the normalized ``http://host:port``."""

    host: str
    port: int
    base_url: str


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


@functools.lru_cache(maxsize=64)
def parse_endpoint(url: str) -> Endpoint:
    """Return the Endpoint of a base URL such as ``http://169.254.169.254`` or ``http://127.0.0.1:8080``.

    Raises:
        ValueError: the URL is not ``http://HOST[:PORT]`` (IMDS speaks plain HTTP, no path).
    """
    parts = urlsplit(url.strip())
    try:
        port = parts.port or 80
    except ValueError:
        port = -1
    if (
        parts.scheme != "http"
        or not parts.hostname
        or port < 1
        or parts.path not in ("", "/")
        or parts.query
        or parts.username
    ):
        raise ValueError(
            f"IMDS endpoint {url!r} is not of the form http://HOST[:PORT] "
            "(e.g. http://169.254.169.254 or http://127.0.0.1:8080); fix the endpoint argument "
            "or AZIMDS_ENDPOINT"
        )
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(host, port, f"http://{shown}:{port}")


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
        TransportError: no complete response (timeout, deadline, refused, reset, cut short).
        ResponseTooLarge: the body is, or announces itself, larger than ``max_bytes``.
    """
    remaining = deadline_at - clock()
    if remaining <= 0:
        raise TransportError("deadline reached before connecting")
    connection = http.client.HTTPConnection(
        endpoint.host, endpoint.port, timeout=min(connect_timeout, remaining)
    )
    try:
        try:
            connection.connect()
        except socket.timeout:
            waited = min(connect_timeout, remaining)
            raise TransportError(f"timed out connecting ({waited:g}s)") from None
        except OSError as exc:
            raise TransportError(f"cannot connect: {_describe(exc)}") from None
        sock = connection.sock
        assert sock is not None
        phase = "waiting for the response"
        try:
            _set_timeout(sock, read_timeout, deadline_at, clock)
            connection.request("GET", target, headers=dict(headers))
            response = connection.getresponse()
            phase = "reading the body"
            url = endpoint.base_url + target
            body = _read_body(response, sock, url, read_timeout, deadline_at, clock, max_bytes)
        except socket.timeout:
            raise TransportError(f"timed out {phase}") from None
        except http.client.RemoteDisconnected:
            raise TransportError("connection closed without a response") from None
        except http.client.IncompleteRead as exc:
            raise TransportError(f"body cut short after {len(exc.partial)} bytes") from None
        except http.client.HTTPException as exc:
            raise TransportError(f"invalid HTTP response ({type(exc).__name__})") from None
        except OSError as exc:
            raise TransportError(f"network error {phase}: {_describe(exc)}") from None
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, response.reason, headers_in, body)
    finally:
        connection.close()


def _read_body(
    response: http.client.HTTPResponse,
    sock: socket.socket,
    shown_url: str,
    read_timeout: float,
    deadline_at: float,
    clock: Callable[[], float],
    max_bytes: int,
) -> bytes:
    announced = _content_length(response)
    if announced is not None and announced > max_bytes:
        raise ResponseTooLarge(shown_url, max_bytes, announced)
    chunks: List[bytes] = []
    received = 0
    while announced is None or received < announced:
        _set_timeout(sock, read_timeout, deadline_at, clock)
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLarge(shown_url, max_bytes)
        chunks.append(chunk)
    if announced is not None and received < announced:
        raise TransportError(f"body cut short: {received} of {announced} bytes")
    return b"".join(chunks)


def _set_timeout(
    sock: socket.socket, read_timeout: float, deadline_at: float, clock: Callable[[], float]
) -> None:
    remaining = deadline_at - clock()
    if remaining <= 0:
        raise TransportError("deadline reached while waiting for IMDS")
    wanted = min(read_timeout, remaining)
    current = sock.gettimeout()
    # Set it when it is still the connect timeout, or when the deadline has come closer.
    if current is None or wanted < current or current < read_timeout:
        sock.settimeout(wanted)


def _content_length(response: http.client.HTTPResponse) -> Optional[int]:
    value = response.getheader("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return exc.strerror or type(exc).__name__
