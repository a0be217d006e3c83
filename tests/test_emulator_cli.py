"""`azimds emulator serve|fleet` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List
from urllib.parse import urlsplit

import pytest

AZIMDS = [sys.executable, "-m", "azimds"]


@pytest.fixture
def processes() -> Iterator[List[subprocess.Popen[str]]]:
    started: List[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def launch(processes: List[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*AZIMDS, "emulator", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    processes.append(process)
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first


def get(base_url: str, target: str) -> tuple[int, str]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("GET", target, headers={"Metadata": "true"})
    response = connection.getresponse()
    return response.status, response.read().decode()


def test_serve_announces_its_url_and_answers(processes: List[subprocess.Popen[str]]) -> None:
    process, first = launch(processes, "serve", "--port", "0")
    match = re.search(r"at (http://127\.0\.0\.1:\d+)", first)
    assert match, first
    assert process.stdout is not None
    hint = process.stdout.readline()
    assert f'curl -H Metadata:true "{match.group(1)}/metadata/instance?api-version=' in hint
    status, body = get(match.group(1), "/metadata/instance?api-version=2021-02-01")
    assert status == 200
    assert json.loads(body)["compute"]["name"] == "jubilee"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    assert "GET /metadata/instance?api-version=2021-02-01" in process.stderr.read()


def test_serve_with_a_profile_and_a_scripted_fault(
    processes: List[subprocess.Popen[str]], tmp_path: Path
) -> None:
    profile = tmp_path / "vm.yaml"
    profile.write_text("compute:\n  name: web01\n  zone: 3\n")
    fault = json.dumps({"kind": "status", "status": 503, "times": 1})
    _, first = launch(
        processes, "serve", "--port", "0", "--profile", str(profile), "--fault", fault
    )
    url = re.search(r"(http://\S+)", first).group(1)  # type: ignore[union-attr]
    target = "/metadata/instance/compute/zone?api-version=2021-02-01&format=text"
    assert get(url, target)[0] == 503
    assert get(url, target) == (200, "3")


@pytest.mark.parametrize("host", ["0.0.0.0", "169.254.169.254", "10.0.0.1"])
def test_serve_refuses_non_loopback_addresses(host: str) -> None:
    result = subprocess.run(
        [*AZIMDS, "emulator", "serve", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "refusing to listen" in result.stderr
    # Every interface is never allowed; other addresses only inside a private namespace.
    assert ("use 127.0.0.1" if host == "0.0.0.0" else "unshare -rn") in result.stderr


def test_serve_reports_a_bad_profile_clearly(tmp_path: Path) -> None:
    profile = tmp_path / "vm.yaml"
    profile.write_text("compute: [1, 2]\n")
    result = subprocess.run(
        [*AZIMDS, "emulator", "serve", "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "'compute' must be a mapping" in result.stderr
    assert "Traceback" not in result.stderr


def test_fleet_writes_a_manifest_and_serves_each_vm(
    processes: List[subprocess.Popen[str]], tmp_path: Path
) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text(
        "locations: {westus: 3, eastus: 2}\nseed: 5\nzones: ['1', '2']\n"
        "tags: {Role: [web, db], Tier: {gold: 1}}\nscale_sets: {count: 1, share: 0.5}\n"
    )
    manifest = tmp_path / "m.json"
    _, first = launch(processes, "fleet", str(spec), "--manifest", str(manifest), "--quiet")
    assert "5 VMs" in first
    vms = json.loads(manifest.read_text())["vms"]
    assert [vm["location"] for vm in vms] == ["westus"] * 3 + ["eastus"] * 2
    truth = ("name", "vmId", "location", "zone", "platformFaultDomain", "platformUpdateDomain")
    for vm in vms:
        # The manifest says what each base URL serves: the truth other tools compare against.
        status, body = get(vm["base_url"], "/metadata/instance/compute?api-version=2021-02-01")
        assert status == 200
        served = json.loads(body)
        assert {key: vm[key] for key in truth} == {key: served[key] for key in truth}
        assert vm["tags"] == {tag["name"]: tag["value"] for tag in served["tagsList"]}
        assert set(vm["tags"]) == {"Role", "Tier"}
        assert (vm["vmScaleSetName"], vm["resourceId"]) == (
            served["vmScaleSetName"],
            served["resourceId"],
        )
    assert {vm["zone"] for vm in vms} == {"1", "2"}


def test_help_explains_how_to_start() -> None:
    result = subprocess.run(
        [*AZIMDS, "emulator", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "curl -H Metadata:true" in result.stdout
    assert "--allow-address" in result.stdout


@pytest.mark.parametrize("value", ["abc", "70000", "-1", "\uff18\uff11\uff16\uff19", "1e3"])
def test_a_bad_port_in_the_environment_is_a_clear_error(value: str) -> None:
    environment = {**os.environ, "AZIMDS_EMULATOR_PORT": value}
    served = subprocess.run(
        [*AZIMDS, "emulator", "serve"], capture_output=True, text=True, timeout=30, env=environment
    )
    assert served.returncode == 2
    assert served.stderr.startswith("azimds emulator: AZIMDS_EMULATOR_PORT=")
    assert "is not a port number (0 to 65535)" in served.stderr
    assert "Traceback" not in served.stderr
    version = subprocess.run(
        [*AZIMDS, "--version"], capture_output=True, text=True, timeout=30, env=environment
    )
    assert (version.returncode, version.stderr) == (0, "")
    assert version.stdout.startswith("azimds ")


@pytest.mark.parametrize("value", ["abc", "65536"])
def test_a_bad_port_flag_is_a_usage_error(value: str) -> None:
    done = subprocess.run(
        [*AZIMDS, "emulator", "serve", "--port", value], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert f"argument --port: '{value}' is not a port number (0 to 65535)" in done.stderr


def test_the_port_comes_from_the_environment(processes: List[subprocess.Popen[str]]) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen(
        [*AZIMDS, "emulator", "serve", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AZIMDS_EMULATOR_PORT": str(port)},
    )
    processes.append(process)
    assert process.stdout is not None
    assert f"at http://127.0.0.1:{port}\n" in process.stdout.readline()
