"""One plain HTTP GET to any http:// URL (an AIA "CA Issuers" URL), over azimds's transport.

The transport is the client's: no proxy, no redirect followed, a timeout, a cap on the body.
"""

from __future__ import annotations

import time
from typing import Dict, Mapping, NamedTuple
from urllib.parse import urlsplit

from ..imds import transport
from ..imds.errors import ResponseTooLarge


class HTTPGetError(Exception):
    """The request could not be made, was redirected, or the body was too large."""


class Response(NamedTuple):
    """An HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: Dict[str, str]
    body: bytes


def get(url: str, *, headers: Mapping[str, str], timeout: float, max_bytes: int) -> Response:
    """Return the response to ``GET url``; an HTTP error status is a response, not an error.

    Raises:
        HTTPGetError: the URL is not plain http, the connection failed or timed out, the server
            redirected, or the body is larger than ``max_bytes``.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.netloc:
        raise HTTPGetError(f"refusing {url!r}: only plain http:// URLs are fetched")
    try:
        endpoint = transport.parse_endpoint(f"http://{parts.netloc}")
    except ValueError:
        raise HTTPGetError(f"refusing {url!r}: not a usable host and port") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        reply = transport.get(
            endpoint,
            target,
            headers,
            connect_timeout=timeout,
            read_timeout=timeout,
            deadline_at=started + timeout,
            clock=time.monotonic,
            max_bytes=max_bytes,
        )
    except transport.TransportError as exc:
        raise HTTPGetError(f"GET {url} failed: {exc.outcome}") from None
    except ResponseTooLarge:
        raise HTTPGetError(f"GET {url}: the body is larger than {max_bytes} bytes") from None
    if 300 <= reply.status < 400:
        location = reply.headers.get("location", "?")
        raise HTTPGetError(
            f"{url} redirected ({reply.status}) to {location}; redirects are refused"
        )
    return Response(reply.status, reply.headers, reply.body)
