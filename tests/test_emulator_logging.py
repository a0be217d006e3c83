"""Request logging: one INFO line per request on "azimds.emulator", never a secret in it."""

from __future__ import annotations

import base64
import logging
import re
from typing import List

import pytest

from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from emulator_support import request, try_request, wait_for

LOGGER = "azimds.emulator"
LATENCY = re.compile(r" (\d+\.\d\d)ms")


@pytest.fixture
def emulator(imds_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture) -> Emulator:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return imds_factory(rate_limit=False)


def lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def logged(caplog: pytest.LogCaptureFixture, count: int) -> List[str]:
    """Wait for ``count`` request lines (the server logs just after it answers)."""
    assert wait_for(lambda: len(lines(caplog)) >= count), lines(caplog)
    return lines(caplog)


def test_each_request_is_logged_with_method_path_status_and_latency(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    request(emulator.base_url, "/metadata/instance/compute/name?api-version=2021-02-01&format=text")
    request(emulator.base_url, "/metadata/instance/nothing?api-version=2021-02-01")
    request(emulator.base_url, "/metadata/instance", headers={})
    request(emulator.base_url, "/metadata/instance", method="DELETE")
    first, second, third, fourth = logged(caplog, 4)
    assert '"GET /metadata/instance/compute/name?' in first and '" 200 ' in first
    assert "api-version=2021-02-01" in first and "format=text" in first
    assert '"GET /metadata/instance/nothing?' in second and '" 404 ' in second
    assert '"GET /metadata/instance" 400 ' in third
    assert '"DELETE /metadata/instance" 405 ' in fourth
    for line in (first, second, third, fourth):
        assert LATENCY.search(line), line
        assert line.startswith("jubilee 127.0.0.1:")  # the VM and the client
    records = [r for r in caplog.records if r.name == LOGGER]
    assert all(r.levelno == logging.INFO for r in records)


def test_latency_is_logged(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    emulator.add_fault({"kind": "latency", "delay": 0.25, "times": 1})
    request(emulator.base_url, "/metadata/versions")
    (line,) = logged(caplog, 1)
    match = LATENCY.search(line)
    assert match is not None and float(match.group(1)) >= 250


def test_reset_and_truncation_are_noted(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.add_fault({"kind": "reset", "times": 1})
    emulator.add_fault({"kind": "truncate", "times": 1})
    try_request(emulator.base_url, "/metadata/versions")
    try_request(emulator.base_url, "/metadata/versions")
    reset, truncated = logged(caplog, 2)
    assert '"GET /metadata/versions" - ' in reset and reset.endswith("(reset)")
    assert '"GET /metadata/versions" 200 ' in truncated and truncated.endswith("(truncated)")


def test_control_characters_are_not_logged(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    request(emulator.base_url, "/metadata/x%1b%5b31m%0d%0aforged%20line")
    (line,) = logged(caplog, 1)
    assert "\x1b" not in line and "\r" not in line and "\n" not in line


def test_custom_and_user_data_never_appear_in_logs(
    imds_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    custom = "#cloud-config\npassword: custom-secret-7731\n"
    user = "user-secret-token-4412"
    emulator = imds_factory(
        {
            "compute": {
                "customData": base64.b64encode(custom.encode()).decode(),
                "userData": base64.b64encode(user.encode()).decode(),
            }
        },
        rate_limit=False,
    )
    targets = [
        "/metadata/instance/compute/customData?api-version=2019-02-01&&format=text",
        "/metadata/instance/compute/userData?api-version=2021-01-01&format=text",
        "/metadata/instance/compute/customData?api-version=2025-04-07",  # 400: leaf
        "/metadata/instance/compute?api-version=2025-04-07",
        "/metadata/instance?api-version=2025-04-07",
        "/metadata/instance/compute?api-version=2025-04-07&format=text",
    ]
    replies = [request(emulator.base_url, target) for target in targets]
    assert base64.b64decode(replies[0].body).decode() == custom
    assert base64.b64decode(replies[1].body).decode() == user
    assert [r.status for r in replies] == [200, 200, 400, 200, 200, 200]
    logged(caplog, len(targets))
    forbidden = [
        custom,
        "custom-secret-7731",
        base64.b64encode(custom.encode()).decode(),
        user,
        base64.b64encode(user.encode()).decode(),
    ]
    everything = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.msg!r}" for r in caplog.records
    )
    for secret in forbidden:
        assert secret not in everything
    assert "/metadata/instance/compute/customData" in caplog.text  # the request itself is logged
