"""The control API under /azimds/: faults (POST/GET/DELETE), the VM, the request journal."""

from __future__ import annotations

from typing import Any

import pytest

from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.sandbox import EmulatorProcess
from azimds.emulator.server import Emulator
from emulator_support import INSTANCE, FakeClock, control, request, serves_normally, statuses


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(imds_factory: EmulatorFactory, clock: FakeClock) -> Emulator:
    return imds_factory(clock=clock, rate_limit=False)


def test_post_one_fault(emulator: Emulator) -> None:
    reply = control(
        emulator.base_url, "POST", "/azimds/faults", {"kind": "status", "status": 500, "times": 2}
    )
    assert reply.status == 201
    listed = reply.json()["faults"]
    assert [(f["kind"], f["status"], f["times"], f["hits"]) for f in listed] == [
        ("status", 500, 2, 0)
    ]
    assert statuses(emulator.base_url, 3) == [500, 500, 200]


def test_post_a_sequence_then_list_and_clear(emulator: Emulator) -> None:
    sequence = [
        {"kind": "status", "status": 500, "times": 3},
        {"kind": "status", "status": 410, "times": 1, "path": "/metadata/instance"},
    ]
    assert control(emulator.base_url, "POST", "/azimds/faults", sequence).status == 201
    listed = control(emulator.base_url, "GET", "/azimds/faults").json()["faults"]
    assert [(f["status"], f["path"]) for f in listed] == [
        (500, "/metadata"),
        (410, "/metadata/instance"),
    ]
    assert statuses(emulator.base_url, 2) == [500, 500]
    hits = [f["hits"] for f in control(emulator.base_url, "GET", "/azimds/faults").json()["faults"]]
    assert hits == [2, 0]
    deleted = control(emulator.base_url, "DELETE", "/azimds/faults")
    assert (deleted.status, deleted.json()) == (200, {"faults": []})
    assert control(emulator.base_url, "GET", "/azimds/faults").json() == {"faults": []}
    assert statuses(emulator.base_url, 2) == [200, 200]


def test_posted_faults_follow_those_already_scripted(emulator: Emulator) -> None:
    emulator.add_fault({"kind": "status", "status": 503, "times": 1})
    control(emulator.base_url, "POST", "/azimds/faults", {"kind": "status", "status": 500})
    control(emulator.base_url, "POST", "/azimds/faults/", {"kind": "redirect", "times": 1})
    assert statuses(emulator.base_url, 3) == [503, 500, 500]
    control(emulator.base_url, "DELETE", "/azimds/faults")
    assert statuses(emulator.base_url, 1) == [200]


def test_posted_time_window_uses_the_emulator_clock(emulator: Emulator, clock: FakeClock) -> None:
    control(
        emulator.base_url, "POST", "/azimds/faults", {"kind": "status", "status": 410, "seconds": 5}
    )
    assert statuses(emulator.base_url, 1) == [410]
    clock.advance(4.9)
    assert statuses(emulator.base_url, 1) == [410]
    clock.advance(0.1)
    assert statuses(emulator.base_url, 1) == [200]


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "status"}, "status"),
        ({"kind": "status", "status": 500, "time": 3}, "time"),
        ({"kind": "status", "status": 500, "times": -1}, "times"),
        ({"kind": "status", "status": 500, "times": 1e999}, "integers"),
        ({"kind": "status", "status": [500]}, "integers"),
        ({"kind": "latency", "delay": -1}, "delay"),
        ({"kind": "redirect", "status": 418}, "redirect"),
        ({"kind": "status", "status": 500, "path": "instance"}, "path"),
        ("status 500", "mapping"),
        (None, "mapping"),
        ([{"kind": "status", "status": 500}, {"kind": "nope"}], "nope"),
    ],
)
def test_invalid_fault_is_400_naming_the_problem(
    emulator: Emulator, payload: Any, named: str
) -> None:
    reply = control(emulator.base_url, "POST", "/azimds/faults", payload)
    assert reply.status == 400
    assert reply.json()["error"].startswith("Bad request. ")
    assert named in reply.json()["error"]
    # Nothing of a refused request was scripted, not even its valid part.
    assert control(emulator.base_url, "GET", "/azimds/faults").json() == {"faults": []}
    assert serves_normally(emulator.base_url)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe{}",
        b"[" * 60000,  # deeper than the JSON decoder's recursion limit
        b'{"kind": "status", "status": 500, "times": NaN}',
    ],
    ids=["empty", "unclosed", "text", "not-utf8", "deep", "nan"],
)
def test_unreadable_fault_body_is_400(emulator: Emulator, body: bytes) -> None:
    reply = request(emulator.base_url, "/azimds/faults", method="POST", headers={}, body=body)
    assert reply.status == 400
    assert reply.json()["error"].startswith("Bad request. ")
    assert control(emulator.base_url, "GET", "/azimds/faults").json() == {"faults": []}
    assert serves_normally(emulator.base_url)


def test_vm_summary(emulator: Emulator) -> None:
    reply = control(emulator.base_url, "GET", "/azimds/vm")
    assert reply.status == 200
    summary = reply.json()
    assert summary["name"] == "jubilee"
    assert summary["vmId"] == "13f56399-bd52-4150-9748-7190aae1ff21"
    assert summary["base_url"] == emulator.base_url
    assert summary["profile"] == "<built-in default>"


def test_request_journal(emulator: Emulator, clock: FakeClock) -> None:
    request(emulator.base_url, INSTANCE)
    clock.advance(2)
    request(emulator.base_url, "/metadata/instance", headers={})
    journal = control(emulator.base_url, "GET", "/azimds/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in journal] == [
        ("GET", "/metadata/instance", 200),
        ("GET", "/metadata/instance", 400),
    ]
    assert journal[1]["at"] - journal[0]["at"] == 2
    assert journal[0]["query"] == {"api-version": ["2021-02-01"]} and journal[1]["query"] == {}
    assert journal[0]["headers"]["metadata"] == "true"
    assert "metadata" not in journal[1]["headers"]
    # The control API itself is not journaled, and the Python view agrees.
    assert [(r.path, r.status) for r in emulator.requests] == [
        ("/metadata/instance", 200),
        ("/metadata/instance", 400),
    ]
    assert emulator.requests[0].query == {"api-version": ["2021-02-01"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/azimds/vm"),
        ("PUT", "/azimds/faults"),
        ("PATCH", "/azimds/faults"),
        ("DELETE", "/azimds/requests"),
    ],
)
def test_wrong_method_on_control_api_is_405(emulator: Emulator, method: str, path: str) -> None:
    reply = control(emulator.base_url, method, path, {})
    assert reply.status == 405
    assert isinstance(reply.json()["error"], str)


@pytest.mark.parametrize("path", ["/azimds", "/azimds/", "/azimds/nothing", "/azimds/vm/x"])
def test_unknown_control_path_is_404(emulator: Emulator, path: str) -> None:
    reply = control(emulator.base_url, "GET", path)
    assert reply.status == 404
    assert "/azimds/faults" in reply.json()["error"]


def test_control_api_is_outside_metadata(emulator: Emulator) -> None:
    # A fault on everything IMDS serves does not touch the control API.
    emulator.add_fault({"kind": "reset", "path": "/"})
    assert control(emulator.base_url, "GET", "/azimds/faults").status == 200
    assert control(emulator.base_url, "DELETE", "/azimds/faults").status == 200
    assert serves_normally(emulator.base_url)


def test_used_up_faults_leave_the_listing(emulator: Emulator, clock: FakeClock) -> None:
    control(
        emulator.base_url,
        "POST",
        "/azimds/faults",
        [
            {"kind": "status", "status": 500, "times": 1},
            {"kind": "status", "status": 410, "seconds": 5},
        ],
    )
    assert request(emulator.base_url, "/metadata/versions").status == 500
    listed = control(emulator.base_url, "GET", "/azimds/faults").json()["faults"]
    assert [f["status"] for f in listed] == [410]  # the 500 served its one request
    assert request(emulator.base_url, "/metadata/versions").status == 410
    clock.advance(5)
    assert control(emulator.base_url, "GET", "/azimds/faults").json()["faults"] == []


def test_an_emulator_process_on_loopback_is_controlled_from_this_process() -> None:
    with EmulatorProcess(["serve", "--port", "0", "--quiet"]) as vm:
        added = vm.control("POST", "/azimds/faults", {"kind": "status", "status": 500, "times": 1})
        assert [f["status"] for f in added["faults"]] == [500]
        assert statuses(vm.base_url, 2) == [500, 200]
        assert vm.instance_requests() == 2
        with pytest.raises(RuntimeError, match="405"):
            vm.control("DELETE", "/azimds/requests")
