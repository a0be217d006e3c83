"""One plain HTTP GET: no proxies (even when the environment sets one), no redirects,
a timeout, and a cap on the size of the body read."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Any, Dict, Mapping, NoReturn


class HTTPGetError(Exception):
    """The request could not be made or the body was too large; the message says why."""


@dataclass(frozen=True)
class Response:
    """An HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: Dict[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> NoReturn:
        raise HTTPGetError(f"{req.full_url} redirected ({code}) to {newurl}; redirects are refused")


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def get(url: str, *, headers: Mapping[str, str], timeout: float, max_bytes: int) -> Response:
    """Return the response to ``GET url``; an HTTP error status is a response, not an error.

    Raises:
        HTTPGetError: the URL is not http(s), the connection failed or timed out, the server
            redirected, or the body is larger than ``max_bytes``.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise HTTPGetError(f"refusing {url!r}: only http and https URLs are fetched")
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            return Response(reply.status, _headers(reply.headers), _read(reply, url, max_bytes))
    except urllib.error.HTTPError as reply:
        with reply:
            return Response(reply.code, _headers(reply.headers), _read(reply, url, max_bytes))
    except HTTPGetError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HTTPGetError(f"GET {url} failed: {reason}") from None


def _read(reply: Any, url: str, max_bytes: int) -> bytes:
    body = bytes(reply.read(max_bytes + 1))
    if len(body) > max_bytes:
        raise HTTPGetError(f"GET {url}: the body is larger than {max_bytes} bytes")
    return body


def _headers(message: Any) -> Dict[str, str]:
    return {str(k).lower(): str(v) for k, v in message.items()} if message is not None else {}
