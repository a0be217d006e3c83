"""What a hostile or greedy client cannot take from the emulator: memory, descriptors, exit.

Each test runs the emulator as `azimds emulator serve` in its own process, so that its memory,
its open-file limit and its exit can be measured from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import http.client
import logging
import resource
import select
import signal
import socket
import subprocess
import weakref
from pathlib import Path
from typing import Iterator, List

import pytest

from azimds.emulator.accepting import AcceptFailureLog
from azimds.emulator.binding import DescriptorLimit, reserve_descriptors
from azimds.emulator.server import Emulator
from emulator_support import (
    INSTANCE,
    FakeClock,
    address,
    emulator_command,
    request,
    resident_bytes,
    start_emulator,
    wait_for,
)

MiB = 1024 * 1024
PIPELINED = b"GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n"


@pytest.fixture
def processes() -> Iterator[List[subprocess.Popen[str]]]:
    started: List[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def flood(base_url: str, pid: int, total: int, give_up_above: int) -> socket.socket:
    """Send up to ``total`` bytes of pipelined GETs on a new connection without reading.

    Stops early once the emulator stops reading (a send blocks for a second) or its resident
    memory exceeds ``give_up_above`` bytes (the test has then failed; no need to go on).
    """
    sock = socket.create_connection(address(base_url), timeout=5)
    sock.settimeout(1.0)
    chunk = PIPELINED * (MiB // len(PIPELINED))
    sent = 0
    while sent < total and resident_bytes(pid) < give_up_above:
        try:
            sock.sendall(chunk)
        except socket.timeout:
            break  # the emulator has stopped reading this connection
        sent += len(chunk)
    return sock


def test_clients_that_never_read_their_answers_cannot_grow_its_memory(
    processes: List[subprocess.Popen[str]],
) -> None:
    process, url = start_emulator("--quiet", "--no-rate-limit")
    processes.append(process)
    assert request(url, INSTANCE).status == 200
    before = resident_bytes(process.pid)
    hostile = [flood(url, process.pid, 32 * MiB, before + 256 * MiB) for _ in range(2)]
    try:
        grown = resident_bytes(process.pid) - before
        assert grown < 32 * MiB, f"the emulator grew by {grown // MiB} MiB"
        # A well-behaved client on another connection is still answered.
        assert request(url, INSTANCE).status == 200
    finally:
        for sock in hostile:
            sock.close()


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the next line of the process's standard error ('' if none comes in time)."""
    assert process.stderr is not None
    readable, _, _ = select.select([process.stderr], [], [], timeout)
    return process.stderr.readline() if readable else ""


def test_running_out_of_descriptors_is_one_line_not_a_traceback_per_accept(
    processes: List[subprocess.Popen[str]],
) -> None:
    process, url = start_emulator("--quiet", open_files=64)
    processes.append(process)
    clients = []
    try:
        for _ in range(100):  # more than 64 descriptors: some accepts must fail
            clients.append(socket.create_connection(address(url), timeout=5))
        first = read_line(process, timeout=30)
    finally:
        for client in clients:
            client.close()
    assert "cannot accept connections" in first, first
    assert "open file limit 64" in first and "ulimit -n" in first
    # It recovers: once those connections are gone, a new one is accepted and answered.
    assert request(url, INSTANCE, timeout=30).status == 200
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in rest, rest
    assert [line for line in rest.splitlines() if "accept" in line] == []  # once per interval


def test_accept_failures_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    handler = AcceptFailureLog(clock=clock, interval=10.0)
    loop = asyncio.new_event_loop()
    failure = {"message": "accept", "exception": OSError(errno.EMFILE, "Too many open files")}
    try:
        with caplog.at_level(logging.ERROR, logger="azimds.emulator"):
            for _ in range(512):  # one wake-up of a listening socket: up to 512 refusals
                handler(loop, failure)
            clock.advance(9.9)
            handler(loop, failure)
            clock.advance(0.1)
            handler(loop, failure)
    finally:
        loop.close()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "Too many open files" in messages[0]
    assert "; 512 more since the last report)" in messages[1]
    assert all(record.exc_info is None for record in caplog.records)


def test_other_loop_errors_still_reach_the_default_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            AcceptFailureLog()(loop, {"message": "something else", "exception": ValueError("x")})
    finally:
        loop.close()
    assert any("something else" in record.getMessage() for record in caplog.records)


def test_accept_retries_on_sockets_closed_by_stopping_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = AcceptFailureLog()
    handler.stopping = True
    loop = asyncio.new_event_loop()
    closed = {"message": "retry", "exception": ValueError("Invalid file descriptor: -1")}
    try:
        with caplog.at_level(logging.INFO):
            handler(loop, closed)
    finally:
        loop.close()
    assert caplog.records == []


def test_a_fleet_beyond_the_open_file_limit_is_refused_with_the_way_out(tmp_path: Path) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text("locations: {westus: 600}\n")
    manifest = tmp_path / "fleet.json"
    done = subprocess.run(
        emulator_command("fleet", str(spec), "--manifest", str(manifest), open_files=512),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.startswith("azimds emulator: 600 VMs need at least 632 open files")
    assert "may open only 512" in message and "ulimit -n 1232" in message
    assert len(message.splitlines()) == 1
    assert not manifest.exists()


def test_the_descriptor_budget_raises_the_soft_limit_when_it_can() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard < 300:
            pytest.skip(f"the hard open-file limit {hard} is too low for this check")
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        reserve_descriptors(100)  # 132 needed: the soft limit is raised, not refused
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 132
        with pytest.raises(DescriptorLimit, match="ulimit -n"):
            reserve_descriptors(hard)  # more sockets than the hard limit allows
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_closed_connections_leave_nothing_behind() -> None:
    """Nothing of a closed connection stays alive (no timer per connection), so a process
    that served many connections holds no more than a fresh one, and exits as fast."""
    with Emulator(rate_limit=False) as emulator:
        gone = []
        for _ in range(20):
            connection = http.client.HTTPConnection(*address(emulator.base_url), timeout=5)
            connection.request("GET", "/metadata/versions", headers={"Metadata": "true"})
            assert connection.getresponse().read()
            assert wait_for(lambda: len(emulator.connections.open) == 1)
            gone.append(weakref.ref(next(iter(emulator.connections.open))))
            connection.close()
            assert wait_for(lambda: not emulator.connections.open)
        gc.collect()
        assert [ref for ref in gone if ref() is not None] == []


def test_sigterm_closes_idle_connections_and_exits(
    processes: List[subprocess.Popen[str]],
) -> None:
    process, url = start_emulator("--quiet", "--no-rate-limit")
    processes.append(process)
    for _ in range(200):  # served and closed
        assert request(url, "/metadata/versions").status == 200
    idle = []
    for _ in range(20):  # served and kept open
        sock = socket.create_connection(address(url), timeout=30)
        sock.sendall(b"GET /metadata/versions HTTP/1.1\r\nMetadata: true\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        idle.append(sock)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for sock in idle:
        with contextlib.suppress(ConnectionResetError):  # reset is closed too
            assert sock.recv(65536) == b""  # closed by the emulator, not left open
        sock.close()
