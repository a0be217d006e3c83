"""Scripted faults, every kind, from the Python API and from profiles, over real HTTP.

(The control API's faults are in test_emulator_control.py.)
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from typing import Any, Dict

import pytest

from azimds.emulator.faults import Fault, FaultError
from azimds.emulator.profile import profile_from_mapping
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from emulator_support import (
    INSTANCE,
    FakeClock,
    address,
    request,
    serves_normally,
    statuses,
    wait_for,
)

VERSIONS = "/metadata/versions"
GOOD_GET = b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(imds_factory: EmulatorFactory, clock: FakeClock) -> Emulator:
    return imds_factory(clock=clock, rate_limit=False)


def raw_get(base_url: str, target: str = INSTANCE) -> http.client.HTTPResponse:
    """Send a GET and return the response unread (the caller reads, or sees it fail)."""
    host, port = address(base_url)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", target, headers={"Metadata": "true"})
    return connection.getresponse()


def test_status_500_three_times_then_normal(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "status", "status": 500, "times": 3})
    assert statuses(emulator.base_url, 5) == [500, 500, 500, 200, 200]


def test_status_fault_answers_an_imds_json_error(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "status", "status": 503, "times": 1, "retry_after": 2})
    reply = request(emulator.base_url, INSTANCE)
    assert reply.status == 503
    assert reply.headers["content-type"].startswith("application/json")
    assert isinstance(reply.json()["error"], str)
    assert reply.headers["retry-after"] == "2"


@pytest.mark.parametrize("status", [404, 410, 429, 500, 502, 503, 504])
def test_status_fault_serves_the_scripted_status(emulator: Emulator, status: int) -> None:
    emulator.add_fault({"kind": "status", "status": status, "times": 2})
    assert statuses(emulator.base_url, 3) == [status, status, 200]


def test_fault_object_from_python(emulator: Emulator) -> None:
    added = emulator.add_fault(Fault(kind="status", status=500, times=2))
    assert statuses(emulator.base_url, 3) == [500, 500, 200]
    assert added.hits == 2


def test_410_for_seventy_seconds_then_normal(emulator: Emulator, clock: FakeClock) -> None:
    emulator.add_fault({"kind": "status", "status": 410, "seconds": 70})
    clock.advance(500)  # the window starts at the first request it answers, not when added
    assert statuses(emulator.base_url, 3) == [410] * 3
    clock.advance(40)
    assert statuses(emulator.base_url, 1) == [410]
    clock.advance(29.9)
    assert statuses(emulator.base_url, 1) == [410]
    clock.advance(0.1)  # 70 s after the first 410
    assert statuses(emulator.base_url, 3) == [200] * 3


def test_times_and_seconds_whichever_comes_first(emulator: Emulator, clock: FakeClock) -> None:
    emulator.add_fault({"kind": "status", "status": 500, "times": 3, "seconds": 10})
    assert statuses(emulator.base_url, 1) == [500]
    clock.advance(10)
    assert statuses(emulator.base_url, 1) == [200]
    emulator.add_fault({"kind": "status", "status": 500, "times": 2, "seconds": 10})
    assert statuses(emulator.base_url, 3) == [500, 500, 200]


def test_fault_without_limit_lasts_until_cleared(emulator: Emulator, clock: FakeClock) -> None:
    emulator.add_fault({"kind": "status", "status": 500})
    assert statuses(emulator.base_url, 4) == [500] * 4
    clock.advance(3600)
    assert statuses(emulator.base_url, 1) == [500]
    emulator.clear_faults()
    assert statuses(emulator.base_url, 2) == [200, 200]


def test_latency_holds_the_answer_while_other_connections_are_served(
    emulator: Emulator,
) -> None:
    emulator.add_fault({"kind": "latency", "delay": 600, "times": 1})
    held = socket.create_connection(address(emulator.base_url), timeout=5)
    try:
        held.sendall(GOOD_GET)
        assert wait_for(lambda: len(emulator.requests) == 1)  # taken, and held for 600 s
        assert statuses(emulator.base_url, 2, VERSIONS) == [200, 200]  # others go on
        readable, _, _ = select.select([held], [], [], 0)
        assert readable == []  # still nothing for the held request
    finally:
        held.close()


def test_latency_answer_is_the_normal_answer(emulator: Emulator) -> None:
    expected = request(emulator.base_url, INSTANCE)
    emulator.add_fault({"kind": "latency", "delay": 0.05, "times": 1})
    delayed = request(emulator.base_url, INSTANCE)
    assert (delayed.status, delayed.body) == (200, expected.body)
    assert emulator.vm.faults.listing(now=0.0) == []  # the one delay was used


def test_latency_keeps_pipelined_answers_in_order(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "latency", "delay": 0.3, "times": 1, "path": "/metadata/instance"})
    sock = socket.create_connection(address(emulator.base_url), timeout=5)
    try:
        sock.sendall(
            b"GET /metadata/instance/compute/name?api-version=2021-02-01&format=text HTTP/1.1\r\n"
            b"Metadata: true\r\n\r\n"
            b"GET /metadata/versions HTTP/1.1\r\nMetadata: true\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    finally:
        sock.close()
    first = received.find(b"jubilee")
    second = received.find(b"apiVersions")
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert 0 < first < second


def test_reset_closes_without_a_response(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "reset", "times": 1})
    with pytest.raises(ConnectionError):  # reset by peer, or closed without a response
        raw_get(emulator.base_url)
    assert emulator.requests[-1].status == 0
    assert serves_normally(emulator.base_url)


def test_reset_is_a_tcp_reset(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "reset", "times": 1})
    sock = socket.create_connection(address(emulator.base_url), timeout=5)
    try:
        sock.sendall(f"GET {INSTANCE} HTTP/1.1\r\nMetadata: true\r\n\r\n".encode())
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)
    finally:
        sock.close()


def test_truncated_body(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "truncate", "times": 1})
    response = raw_get(emulator.base_url)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert 0 < len(caught.value.partial) < int(response.headers["Content-Length"])
    assert serves_normally(emulator.base_url)


def test_truncated_one_byte_body(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "truncate", "times": 1})
    leaf = "/metadata/instance/compute/platformFaultDomain?api-version=2021-02-01&format=text"
    response = raw_get(emulator.base_url, leaf)
    assert response.headers["Content-Length"] == "1"
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    assert request(emulator.base_url, leaf).body == b"1"


def test_malformed_json(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "malformed", "times": 1})
    reply = request(emulator.base_url, INSTANCE)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert int(reply.headers["content-length"]) == len(reply.body)
    with pytest.raises(ValueError):
        json.loads(reply.body)
    assert request(emulator.base_url, INSTANCE).json()["compute"]["name"] == "jubilee"


@pytest.mark.parametrize("size", [14, 1000, 3 * 1024 * 1024 + 7])
def test_oversized_body(emulator: Emulator, size: int) -> None:
    emulator.add_fault({"kind": "oversized", "bytes": size, "times": 1})
    reply = request(emulator.base_url, INSTANCE)
    assert reply.status == 200
    assert int(reply.headers["content-length"]) == size
    assert len(reply.body) == size
    assert serves_normally(emulator.base_url)


def test_oversized_default_is_four_mebibytes(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "oversized", "times": 1})
    reply = request(emulator.base_url, INSTANCE)
    assert int(reply.headers["content-length"]) == len(reply.body) == 4 * 1024 * 1024


def test_redirect_is_answered_not_followed(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "redirect", "times": 1})
    reply = request(emulator.base_url, INSTANCE)
    assert reply.status == 307
    assert reply.headers["location"] == "http://127.0.0.1:9/elsewhere"
    emulator.add_fault(
        {"kind": "redirect", "status": 302, "location": "http://127.0.0.1:1/x", "times": 1}
    )
    reply = request(emulator.base_url, INSTANCE)
    assert (reply.status, reply.headers["location"]) == (302, "http://127.0.0.1:1/x")
    assert len(emulator.requests) == 2  # one request each; nothing followed anywhere
    assert request(emulator.base_url, INSTANCE).status == 200


def test_faults_from_the_profile(imds_factory: EmulatorFactory) -> None:
    profile = profile_from_mapping(
        {
            "rate_limit": False,
            "faults": [
                {"kind": "status", "status": 503, "times": 2},
                {"kind": "status", "status": 410, "times": 1, "path": "/metadata/instance"},
            ],
        }
    )
    # Two emulators of one profile: each VM gets its own copy of the scripted faults.
    for _ in range(2):
        emulator = imds_factory(profile)
        assert statuses(emulator.base_url, 4) == [503, 503, 410, 200]


def test_fault_on_a_path_leaves_other_paths_alone(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "status", "status": 500, "path": "/metadata/instance"})
    assert statuses(emulator.base_url, 2, VERSIONS) == [200, 200]
    assert statuses(emulator.base_url, 1, "/metadata/loadbalancer?api-version=2021-02-01") == [200]
    assert statuses(emulator.base_url, 1) == [500]
    below = "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"
    assert statuses(emulator.base_url, 1, below) == [500]


@pytest.mark.parametrize(
    ("fault_path", "target", "hit"),
    [
        ("/metadata/instance/", "/metadata/instance", True),
        ("/metadata/instance", "/metadata/instance/", True),
        ("/metadata/instance/compute", "/metadata/instance/network", False),
        ("/metadata/inst", "/metadata/instance", False),
        ("/metadata/instance/compute/vmId", "/metadata/instance/compute", False),
        ("/metadata", "/metadata/versions", True),
    ],
)
def test_fault_path_matching(emulator: Emulator, fault_path: str, target: str, hit: bool) -> None:
    emulator.add_fault({"kind": "status", "status": 500, "path": fault_path})
    status = request(emulator.base_url, f"{target}?api-version=2021-02-01").status
    assert (status == 500) is hit


def test_faults_are_served_in_order(emulator: Emulator) -> None:
    for spec in (
        {"kind": "status", "status": 500, "times": 2},
        {"kind": "status", "status": 410, "times": 1},
        {"kind": "status", "status": 503, "times": 1},
        {"kind": "redirect", "times": 1},
    ):
        emulator.add_fault(spec)
    assert statuses(emulator.base_url, 6) == [500, 500, 410, 503, 307, 200]


def test_sequences_on_different_paths_are_independent(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "status", "status": 500, "times": 2, "path": VERSIONS})
    emulator.add_fault({"kind": "status", "status": 410, "times": 1, "path": "/metadata/instance"})
    assert statuses(emulator.base_url, 1) == [410]
    assert statuses(emulator.base_url, 1, VERSIONS) == [500]
    assert statuses(emulator.base_url, 1) == [200]
    assert statuses(emulator.base_url, 2, VERSIONS) == [500, 200]


def test_fault_kinds_in_sequence(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "reset", "times": 1})
    emulator.add_fault({"kind": "malformed", "times": 1})
    emulator.add_fault({"kind": "status", "status": 500, "times": 1})
    with pytest.raises(ConnectionError):
        raw_get(emulator.base_url)
    malformed = request(emulator.base_url, INSTANCE)
    assert malformed.status == 200
    with pytest.raises(ValueError):
        json.loads(malformed.body)
    assert statuses(emulator.base_url, 2) == [500, 200]
    assert [record.status for record in emulator.requests] == [0, 200, 500, 200]


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"kind": "explode"}, "kind"),
        ({}, "kind"),
        ({"kind": "status", "status": 200}, "status"),
        ({"kind": "status", "status": 600}, "status"),
        ({"kind": "status", "status": 500, "tims": 1}, "tims"),
        ({"kind": "status", "status": "five hundred"}, "integers"),
        ({"kind": "status", "status": 500, "times": 0}, "times"),
        ({"kind": "status", "status": 500, "times": 1e999}, "integers"),
        ({"kind": "status", "status": 500, "seconds": 0}, "seconds"),
        ({"kind": "status", "status": 500, "seconds": float("nan")}, "seconds"),
        ({"kind": "status", "status": 500, "path": "metadata"}, "path"),
        ({"kind": "redirect", "status": 200}, "redirect"),
        ({"kind": "redirect", "location": "http://x/\r\nSet-Cookie: a=b"}, "location"),
        ({"kind": "latency"}, "delay"),
        ({"kind": "latency", "delay": 601}, "delay"),
        ({"kind": "oversized", "bytes": 0}, "bytes"),
        ({"kind": "oversized", "bytes": 13}, "bytes"),
        ({"kind": "oversized", "bytes": 10**12}, "bytes"),
    ],
)
def test_invalid_faults_are_refused_with_the_reason(
    emulator: Emulator, spec: Dict[str, Any], named: str
) -> None:
    with pytest.raises(FaultError, match=named):
        emulator.add_fault(spec)
    assert emulator.vm.faults.listing(now=0.0) == []
    assert serves_normally(emulator.base_url)
