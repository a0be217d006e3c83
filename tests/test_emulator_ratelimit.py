"""Rate limiting: IMDS allows 5 requests per second per VM and answers 429 above that."""

from __future__ import annotations

from typing import List

from azimds.emulator.profile import profile_from_mapping
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from emulator_support import FakeClock, control, request

INSTANCE = "/metadata/instance?api-version=2021-02-01"


def statuses(base_url: str, count: int, target: str = INSTANCE) -> List[int]:
    return [request(base_url, target).status for _ in range(count)]


def test_sixth_request_in_a_second_is_429(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory(clock=clock)
    assert statuses(emulator.base_url, 5) == [200] * 5
    reply = request(emulator.base_url, INSTANCE)
    assert reply.status == 429
    assert reply.headers["content-type"].startswith("application/json")
    assert "Too many requests" in reply.json()["error"]
    assert "5 requests per 1 s" in reply.json()["error"]


def test_window_is_one_second_from_the_first_request(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory(clock=clock)
    assert statuses(emulator.base_url, 5) == [200] * 5
    clock.advance(0.999)
    assert statuses(emulator.base_url, 2) == [429, 429]
    clock.advance(0.001)  # the first five are now a second old
    assert statuses(emulator.base_url, 5) == [200] * 5
    assert statuses(emulator.base_url, 1) == [429]


def test_window_slides(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory(clock=clock)
    assert statuses(emulator.base_url, 3) == [200] * 3  # t = 0
    clock.advance(0.5)
    assert statuses(emulator.base_url, 3) == [200, 200, 429]  # t = 0.5
    clock.advance(0.5)  # the three of t = 0 leave the window
    assert statuses(emulator.base_url, 4) == [200, 200, 200, 429]


def test_every_endpoint_and_error_counts(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory(clock=clock)
    base = emulator.base_url
    assert request(base, "/metadata/versions").status == 200
    assert request(base, "/metadata/instance").status == 400
    assert request(base, "/metadata/instance/nothing?api-version=2021-02-01").status == 404
    assert request(base, "/metadata/loadbalancer?api-version=2021-02-01").status == 200
    assert request(base, INSTANCE).status == 200
    assert request(base, "/metadata/versions").status == 429


def test_control_api_is_not_limited(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory(clock=FakeClock())
    for _ in range(10):
        assert control(emulator.base_url, "GET", "/azimds/faults").status == 200
    assert statuses(emulator.base_url, 5) == [200] * 5


def test_off_when_the_profile_says_so(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"rate_limit": False}, clock=FakeClock())
    assert statuses(emulator.base_url, 30) == [200] * 30


def test_configurable_requests_and_window(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory({"rate_limit": {"requests": 2, "per_seconds": 10}}, clock=clock)
    assert statuses(emulator.base_url, 3) == [200, 200, 429]
    assert "2 requests per 10 s" in request(emulator.base_url, INSTANCE).json()["error"]
    clock.advance(9.9)
    assert statuses(emulator.base_url, 1) == [429]
    clock.advance(0.1)
    assert statuses(emulator.base_url, 3) == [200, 200, 429]


def test_larger_limit(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emulator = imds_factory({"rate_limit": {"requests": 20}}, clock=clock)
    assert statuses(emulator.base_url, 21) == [200] * 20 + [429]


def test_disabled_by_mapping(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"rate_limit": {"enabled": False}}, clock=FakeClock())
    assert statuses(emulator.base_url, 12) == [200] * 12


def test_emulator_argument_overrides_the_profile(imds_factory: EmulatorFactory) -> None:
    off = imds_factory(clock=FakeClock(), rate_limit=False)
    assert statuses(off.base_url, 12) == [200] * 12
    on = imds_factory(
        {"rate_limit": {"enabled": False, "requests": 3}}, clock=FakeClock(), rate_limit=True
    )
    assert statuses(on.base_url, 4) == [200, 200, 200, 429]


def test_each_vm_has_its_own_limit() -> None:
    clock = FakeClock()
    first = profile_from_mapping({"compute": {"name": "first", "vmId": "vm-1"}})
    second = profile_from_mapping({"compute": {"name": "second", "vmId": "vm-2"}})
    with Emulator([first, second], clock=clock) as emulator:
        one, two = (vm.base_url for vm in emulator.vms)
        assert statuses(one, 6) == [200] * 5 + [429]
        assert statuses(two, 5) == [200] * 5
