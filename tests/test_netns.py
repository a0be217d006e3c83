"""The private network the tests, benchmarks and demo run emulators and tools in; its clean-up."""

from __future__ import annotations

import subprocess
import time

import pytest

from azimds.emulator.netns import PrivateNetwork

pytestmark = pytest.mark.netns


def running(pid: int) -> bool:
    """Return True when ``pid`` exists and is not a zombie waiting for its new parent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_only_loopback_inside_and_169_254_169_254_when_asked() -> None:
    with PrivateNetwork(imds_address=True) as network:
        shown = network.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    addresses = sorted(line.split()[3] for line in shown.splitlines())
    assert addresses == ["127.0.0.1/8", "169.254.169.254/32", "::1/128"]


def test_close_stops_every_process_even_one_that_ignores_sigterm() -> None:
    network = PrivateNetwork().start()
    stubborn = network.popen(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300; wait"])
    polite = network.popen(["sleep", "300"])
    time.sleep(0.2)  # let sh start its child
    child = subprocess.run(
        ["pgrep", "-g", str(stubborn.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(child) >= 2  # the shell and its sleeps share the process group
    started = time.monotonic()
    network.close(grace=1.0)
    assert time.monotonic() - started < 10
    assert stubborn.returncode is not None and polite.returncode is not None
    assert not any(running(int(pid)) for pid in child)


def test_a_failing_setup_says_why_and_leaves_nothing_running() -> None:
    network = PrivateNetwork(setup="ip link add broken type no-such-kind")
    with pytest.raises(RuntimeError, match=r"cannot make a private network namespace: .+"):
        network.start()
    assert network._holder is None
