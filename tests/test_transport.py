"""The socket-level HTTP/1.1 transport against canned byte streams from a loopback server."""

from __future__ import annotations

import time
from typing import Iterator, List

import pytest

from azimds.imds.errors import ResponseTooLarge
from azimds.imds.transport import (
    Response,
    TransportError,
    get,
    parse_endpoint,
    percent_encode,
    query_string,
)
from canned_server import CannedServer


@pytest.fixture
def canned() -> Iterator[List[CannedServer]]:
    servers: List[CannedServer] = []
    yield servers
    for server in servers:
        server.close()


def fetch(servers: List[CannedServer], reply: bytes, max_bytes: int = 1024) -> Response:
    server = CannedServer([reply])
    servers.append(server)
    endpoint = parse_endpoint(f"http://127.0.0.1:{server.port}")
    return get(
        endpoint,
        "/metadata/x?a=1",
        {"Metadata": "true"},
        connect_timeout=2,
        read_timeout=2,
        deadline_at=time.monotonic() + 5,
        clock=time.monotonic,
        max_bytes=max_bytes,
    )


def test_the_request_is_plain_http_1_1_with_host_and_connection_close(
    canned: List[CannedServer],
) -> None:
    fetch(canned, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    request = canned[0].received[0].decode()
    lines = request.split("\r\n")
    assert lines[0] == "GET /metadata/x?a=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{canned[0].port}" in lines
    assert "Metadata: true" in lines and "Connection: close" in lines


def test_a_content_length_body(canned: List[CannedServer]) -> None:
    reply = fetch(canned, b"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 5\r\n\r\nhello")
    assert (reply.status, reply.reason, reply.body) == (200, "OK", b"hello")
    assert reply.headers["content-type"] == "a"


def test_a_chunked_body_with_extensions_and_trailers(canned: List[CannedServer]) -> None:
    stream = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: 1\r\n\r\n"
    )
    assert fetch(canned, stream).body == b"hello, world"


def test_a_body_that_ends_with_the_connection(canned: List[CannedServer]) -> None:
    assert fetch(canned, b"HTTP/1.0 200 OK\r\n\r\nuntil close").body == b"until close"


def test_an_interim_100_is_skipped(canned: List[CannedServer]) -> None:
    stream = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
    reply = fetch(canned, stream)
    assert (reply.status, reply.body) == (404, b"{}")


def test_repeated_headers_are_joined(canned: List[CannedServer]) -> None:
    stream = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n"
    assert fetch(canned, stream).headers["x-a"] == "1, 2"


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"", "closed without a response"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nContent-", "middle of the response headers"),
        (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "header line without ':'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "body cut short: 3 of 10 bytes"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "body cut short"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+6\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x6\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6_0\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad chunk size"),
        # Latin-1 (how header bytes are read) has digits str.isdigit() accepts: 0xB2 is "²".
        (b"HTTP/1.1 2\xb20 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1.x status"),
        (b"HTTP/1.1 \xb900 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1.x status"),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1.x status"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", "over 64 KiB"),
    ],
)
def test_broken_responses_are_transport_errors(
    canned: List[CannedServer], stream: bytes, message: str
) -> None:
    with pytest.raises(TransportError, match=message):
        fetch(canned, stream)


@pytest.mark.parametrize(
    "stream",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"800\r\n" + b"x" * 2048,
    ],
)
def test_bodies_over_the_cap_are_refused(canned: List[CannedServer], stream: bytes) -> None:
    with pytest.raises(ResponseTooLarge):
        fetch(canned, stream, max_bytes=1024)


def test_a_negative_chunk_cannot_sneak_a_body_past_the_cap(canned: List[CannedServer]) -> None:
    # Read as -7, this would count 3 KB as minus 7 bytes and end the body at the "0" after it.
    stream = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-7\r\n" + b"x" * 3000
    with pytest.raises(TransportError, match="bad chunk size"):
        fetch(canned, stream + b"0\r\n\r\n", max_bytes=1024)


def test_chunk_sizes_in_either_case_with_leading_zeros(canned: List[CannedServer]) -> None:
    stream = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0000A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n"
    )
    assert fetch(canned, stream).body == b"0123456789abcdefghijk"


def test_a_header_with_a_line_break_is_never_sent(canned: List[CannedServer]) -> None:
    server = CannedServer([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    canned.append(server)
    endpoint = parse_endpoint(f"http://127.0.0.1:{server.port}")
    with pytest.raises(ValueError, match="line break"):
        get(
            endpoint,
            "/x",
            {"X": "a\r\nInjected: 1"},
            connect_timeout=2,
            read_timeout=2,
            deadline_at=time.monotonic() + 5,
            clock=time.monotonic,
            max_bytes=1024,
        )


@pytest.mark.parametrize(
    ("url", "base_url"),
    [
        ("http://169.254.169.254", "http://169.254.169.254:80"),
        ("http://127.0.0.1:8169/", "http://127.0.0.1:8169"),
        (" HTTP://LocalHost:8080 ", "http://localhost:8080"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://[fe80::1]", "http://[fe80::1]:80"),
    ],
)
def test_endpoints_that_are_accepted(url: str, base_url: str) -> None:
    assert parse_endpoint(url).base_url == base_url


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254",
        "169.254.169.254",
        "http://",
        "http://host:0",
        "http://host:65536",
        "http://host:80:90",
        "http://host:8x",
        "http://host/metadata",
        "http://host?x=1",
        "http://user@host",
        "http://::1",
        "http://[::1",
        "http://ho st",
        "file:///etc/passwd",
    ],
)
def test_endpoints_that_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not of the form http://HOST"):
        parse_endpoint(url)


def test_percent_encoding_matches_the_standard_library() -> None:
    from urllib.parse import quote

    for text in ("compute", "a b", "x/y", "ü", "%", "a&b=c", "~-._", "\u2603"):
        assert percent_encode(text) == quote(text, safe="")
    assert query_string({"api-version": "2021-02-01", "nonce": "a b"}) == (
        "api-version=2021-02-01&nonce=a%20b"
    )
