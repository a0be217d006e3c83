"""Hostile and malformed requests over raw sockets: answered (or dropped), never a crash,
never another VM's data or a secret; the same emulator serves normally afterwards.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Iterator, List, Tuple

import pytest

from azimds.emulator.profile import profile_from_mapping
from azimds.emulator.server import Emulator
from emulator_support import (
    address,
    body_of,
    control,
    exchange,
    request,
    serves_normally,
    status_of,
)

SECRET_CUSTOM = "customData: the root password is hunter2"
SECRET_USER = "userData: db-token-5f1e2d"
OTHER_SECRET = "the other VM's custom data: sk-other-8841"
GOOD = b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets() -> List[bytes]:
    return [
        SECRET_CUSTOM.encode(),
        b64(SECRET_CUSTOM).encode(),
        SECRET_USER.encode(),
        b64(SECRET_USER).encode(),
        OTHER_SECRET.encode(),
        b64(OTHER_SECRET).encode(),
        b"vm-other-0000",
    ]


@pytest.fixture(scope="module")
def fleet() -> Iterator[Emulator]:
    """Two VMs in one emulator, each with its own port and its own secrets."""
    mine = profile_from_mapping(
        {
            "compute": {
                "name": "mine",
                "vmId": "vm-mine-1111",
                "customData": b64(SECRET_CUSTOM),
                "userData": b64(SECRET_USER),
            },
            "rate_limit": False,
        }
    )
    other = profile_from_mapping(
        {
            "compute": {
                "name": "other",
                "vmId": "vm-other-0000",
                "customData": b64(OTHER_SECRET),
            },
            "rate_limit": False,
        }
    )
    with Emulator([mine, other]) as emulator:
        yield emulator


@pytest.fixture
def base(fleet: Emulator) -> str:
    fleet.vms[0].clear_faults()
    return fleet.vms[0].base_url


def big_header(size: int) -> bytes:
    return GOOD + b"X-Padding: " + b"a" * size + b"\r\n\r\n"


def many_headers(count: int) -> bytes:
    return GOOD + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 20) for i in range(count)) + b"\r\n"


def get(path: bytes, extra: bytes = b"") -> bytes:
    return (
        b"GET " + path + b" HTTP/1.1\r\nMetadata: true\r\nConnection: close\r\n" + extra + b"\r\n"
    )


HOSTILE: List[Tuple[str, bytes, int]] = [
    ("garbage", b"\x00\x01\x02\xff\xfe\xfd\x80\x81 \x16\x03\x01\r\n\r\n", 400),
    (
        "tls-hello",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
        400,
    ),
    ("garbage-no-end", b"\x07" * (17 * 1024), 431),
    ("no-version", b"GET /metadata/instance?api-version=2021-02-01\r\nMetadata: true\r\n\r\n", 400),
    ("http-0.9", b"GET /\r\n\r\n", 400),
    ("empty-head", b"\r\n\r\n", 400),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("http-1.2", b"GET /metadata/versions HTTP/1.2\r\nMetadata: true\r\n\r\n", 505),
    ("extra-spaces", b"GET  /metadata/versions  HTTP/1.1\r\nMetadata: true\r\n\r\n", 400),
    ("digit-method", b"G3T /metadata/versions HTTP/1.1\r\nMetadata: true\r\n\r\n", 400),
    ("huge-header", big_header(20 * 1024), 431),
    ("huge-header-exact", big_header(16 * 1024), 431),
    ("many-headers", many_headers(1000), 431),
    ("content-length-huge", GOOD + b"Content-Length: 1000000000\r\n\r\n", 413),
    ("content-length-64k+1", GOOD + b"Content-Length: 65537\r\n\r\n", 413),
    ("content-length-text", GOOD + b"Content-Length: ten\r\n\r\n", 400),
    ("content-length-negative", GOOD + b"Content-Length: -1\r\n\r\n", 400),
    ("content-length-float", GOOD + b"Content-Length: 1e3\r\n\r\n", 400),
    ("content-length-superscript", GOOD + b"Content-Length: \xb2\r\n\r\n", 400),
    ("content-length-5000-digits", GOOD + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", 413),
    ("content-length-twice", GOOD + b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
    ("chunked", GOOD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    ("gzip-chunked", GOOD + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (
        "absolute-form",
        b"GET http://169.254.169.254/metadata/instance?api-version=2021-02-01 HTTP/1.1\r\n"
        b"Metadata: true\r\n\r\n",
        400,
    ),
    ("authority-form", b"CONNECT 169.254.169.254:80 HTTP/1.1\r\nMetadata: true\r\n\r\n", 400),
    ("asterisk-form", b"OPTIONS * HTTP/1.1\r\nMetadata: true\r\n\r\n", 400),
    ("header-without-colon", GOOD + b"Metadata true\r\n\r\n", 400),
    ("header-name-space", GOOD + b"X Bad: 1\r\n\r\n", 400),
    ("obs-fold", GOOD + b"X-A: 1\r\n  folded\r\n\r\n", 400),
    ("metadata-twice", GOOD + b"Metadata: true\r\n\r\n", 400),
    ("metadata-non-utf8", get(b"/metadata/versions").replace(b"true", b"tru\xe9"), 400),
    ("metadata-nul", get(b"/metadata/versions").replace(b"true", b"true\x00"), 400),
    ("traversal", get(b"/metadata/../azimds/faults"), 404),
    ("traversal-encoded", get(b"/metadata/%2e%2e/azimds/faults"), 404),
    ("traversal-encoded-slash", get(b"/metadata%2F..%2Fazimds%2Ffaults"), 404),
    (
        "traversal-in-node",
        get(b"/metadata/instance/compute/../network?api-version=2021-02-01"),
        404,
    ),
    (
        "traversal-in-node-encoded",
        get(b"/metadata/instance/compute/%2E%2E/network?api-version=2021-02-01"),
        404,
    ),
    ("traversal-to-other-vm", get(b"/metadata/../../../vm/1/metadata/instance"), 404),
    ("control-chars", get(b"/metadata/instance/\x01\x1b[31m\x7f?api-version=2021-02-01"), 404),
    ("encoded-nul", get(b"/metadata/instance/compute%00/name?api-version=2021-02-01"), 404),
    ("encoded-crlf", get(b"/metadata/x%0d%0aSet-Cookie:%20a=b?api-version=2021-02-01"), 404),
    ("raw-non-utf8", get(b"/metadata/instance/\xff\xfe\xfd?api-version=2021-02-01"), 404),
    ("encoded-non-utf8", get(b"/metadata/instance/%ff%fe?api-version=2021-02-01"), 404),
    ("query-non-utf8", get(b"/metadata/instance?api-version=2021-02-01\xff"), 400),
    ("query-encoded-non-utf8", get(b"/metadata/instance?api-version=%ff%fe"), 400),
    (
        "superscript-index",
        get(b"/metadata/instance/network/interface/%C2%B2?api-version=2021-02-01"),
        404,
    ),
    (
        "arabic-indic-index",
        get(b"/metadata/instance/network/interface/%D9%A0?api-version=2021-02-01"),
        404,
    ),
    (
        "huge-index",
        get(b"/metadata/instance/network/interface/" + b"9" * 5000 + b"?api-version=2021-02-01"),
        404,
    ),
    ("long-path", get(b"/metadata/instance/" + b"a/" * 5000 + b"?api-version=2021-02-01"), 404),
    (
        "many-params",
        get(b"/metadata/instance?" + b"&".join(b"p%d=1" % i for i in range(1500))),
        400,
    ),
]


@pytest.mark.parametrize(
    ("raw", "status"), [(raw, s) for _, raw, s in HOSTILE], ids=[n for n, _, _ in HOSTILE]
)
def test_hostile_request_is_refused_and_the_server_lives_on(
    fleet: Emulator, base: str, raw: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    response = exchange(base, raw)
    assert status_of(response) == status, response[:300]
    payload = json.loads(body_of(response))
    assert isinstance(payload["error"], str)
    assert not any(ord(ch) < 0x20 for ch in payload["error"])  # control characters not echoed
    head = response.partition(b"\r\n\r\n")[0]
    assert b"set-cookie" not in head.lower()
    for secret in secrets():
        assert secret not in response
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a protocol failed"
    assert serves_normally(base)
    assert serves_normally(fleet.vms[1].base_url)


def test_traversal_does_not_reach_the_control_api(base: str) -> None:
    fault = json.dumps({"kind": "reset"}).encode()
    for path in (b"/metadata/../azimds/faults", b"/metadata/%2e%2e/azimds/faults"):
        raw = (
            b"POST " + path + b" HTTP/1.1\r\nMetadata: true\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(fault)
        ) + fault
        assert status_of(exchange(base, raw)) == 405
    assert control(base, "GET", "/azimds/faults").json() == {"faults": []}
    assert serves_normally(base)


def test_request_dripped_byte_by_byte_is_served(base: str) -> None:
    sock = socket.create_connection(address(base), timeout=5)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in GOOD + b"Connection: close\r\n\r\n":
            sock.sendall(bytes([byte]))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    finally:
        sock.close()
    assert status_of(received) == 200
    assert json.loads(body_of(received))["compute"]["name"] == "mine"


def test_client_that_hangs_up_mid_request_does_not_hurt(base: str) -> None:
    for partial in (b"GET /metadata/inst", GOOD, GOOD + b"Content-Length: 10\r\n\r\nabc"):
        sock = socket.create_connection(address(base), timeout=5)
        sock.sendall(partial)
        sock.close()
    assert serves_normally(base)


def test_many_pipelined_requests_are_answered_in_order(base: str) -> None:
    targets = [
        f"/metadata/instance/compute/name?api-version={v}&format=text" for v in ("2017-08-01",) * 20
    ]
    raw = b"".join(f"GET {t} HTTP/1.1\r\nMetadata: true\r\n\r\n".encode() for t in targets)
    raw += b"GET /metadata/versions HTTP/1.1\r\nMetadata: true\r\nConnection: close\r\n\r\n"
    received = exchange(base, raw)
    assert received.count(b"HTTP/1.1 200 OK") == 21
    assert received.count(b"\r\n\r\nmine") == 20
    assert received.rstrip().endswith(b'"2025-04-07"]}')


def test_each_vm_serves_only_its_own_document(fleet: Emulator) -> None:
    mine, other = fleet.vms
    assert mine.base_url != other.base_url
    assert address(mine.base_url)[1] != address(other.base_url)[1]
    newest = "/metadata/instance?api-version=2025-04-07"
    mine_doc = request(mine.base_url, newest)
    other_doc = request(other.base_url, newest)
    assert mine_doc.json()["compute"]["vmId"] == "vm-mine-1111"
    assert other_doc.json()["compute"]["vmId"] == "vm-other-0000"
    assert mine_doc.json()["compute"]["customData"] == b64(SECRET_CUSTOM)
    assert other_doc.json()["compute"]["customData"] == b64(OTHER_SECRET)
    assert b"vm-other-0000" not in mine_doc.body and b64(OTHER_SECRET).encode() not in mine_doc.body
    assert (
        b"vm-mine-1111" not in other_doc.body and b64(SECRET_CUSTOM).encode() not in other_doc.body
    )
    assert control(mine.base_url, "GET", "/azimds/vm").json()["name"] == "mine"
    assert control(other.base_url, "GET", "/azimds/vm").json()["name"] == "other"


def test_host_header_does_not_select_another_vm(fleet: Emulator) -> None:
    mine, other = fleet.vms
    host, port = address(other.base_url)
    reply = request(
        mine.base_url,
        "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text",
        headers={"Metadata": "true", "Host": f"{host}:{port}"},
    )
    assert reply.text == "vm-mine-1111"


def test_faults_of_one_vm_leave_the_other_alone(fleet: Emulator) -> None:
    mine, other = fleet.vms
    mine.add_fault({"kind": "status", "status": 500})
    try:
        assert request(mine.base_url, "/metadata/versions").status == 500
        assert serves_normally(other.base_url)
        assert control(other.base_url, "GET", "/azimds/faults").json() == {"faults": []}
    finally:
        mine.clear_faults()
