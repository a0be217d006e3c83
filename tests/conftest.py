"""Suite-wide guards: no test may talk to anything but loopback.

The real IMDS address (169.254.169.254) and every other non-loopback address are refused at
the socket level in this process, and detection never sees this machine's own DMI data, so a
test that forgets to point azimds at the emulator fails loudly instead of sending a packet.
Tests that need 169.254.169.254 run it inside a private network namespace (unshare -rn), in a
subprocess, where these guards do not apply and the address is the test's own.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import sys
from typing import Any, Iterator, List, Optional, Tuple

import pytest
from hypothesis import settings

from azimds.emulator import netns
from ci_rule import skip_or_fail

# CI runs must not fail by chance on an example no earlier run met: derandomize there.
# Local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Every socket operation, whoever makes it (socket, _socket, C extensions), raises an audit
# event: the guard and the recorders below see them all, which patching socket.socket would not.
_guard_on = False
_recorders: List[List[Tuple[str, Any]]] = []


def _check(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else None
    if host is None:  # AF_UNIX paths and the like
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise AssertionError(f"test tried to connect to {host}: only loopback is allowed")


def _audit(event: str, args: Tuple[Any, ...]) -> None:
    if not event.startswith("socket."):
        return
    for recorder in _recorders:
        recorder.append((event, args))
    if _guard_on and event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        _check(args[1])


sys.addaudithook(_audit)


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Refuse non-loopback connections and hide the host's DMI data for the whole run."""
    global _guard_on
    os.environ["AZIMDS_DMI_DIR"] = "/nonexistent/azimds-tests-have-no-dmi"
    _guard_on = True
    yield
    _guard_on = False


@pytest.fixture
def socket_events() -> Iterator[List[Tuple[str, Any]]]:
    """Return the list of socket audit events (creation, lookup, connect...) during the test."""
    events: List[Tuple[str, Any]] = []
    _recorders.append(events)
    yield events
    _recorders.remove(events)


@pytest.fixture
def no_sockets(socket_events: List[Tuple[str, Any]]) -> Iterator[None]:
    """Fail the test if it creates, connects or looks up anything with a socket."""
    yield
    assert socket_events == [], f"sockets were used: {[event for event, _ in socket_events]}"


# --- tests marked netns: they run in a private network namespace, or skip visibly (CI: fail) ---


@functools.lru_cache(maxsize=None)
def _why_no_private_network() -> Optional[str]:
    return netns.available()


@pytest.hookimpl(tryfirst=True)  # before any fixture, module-scoped ones included
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked ``netns`` where no private network can be made; under CI, fail it."""
    if item.get_closest_marker("netns") is None:
        return
    why = _why_no_private_network()
    if why is None:
        return
    skip_or_fail(
        f"needs a private network namespace (unshare -rn): {why}",
        f"CI must run the tests marked netns: {why}",
    )
