"""Suite-wide guards: no test may talk to anything but loopback.

The real IMDS address (169.254.169.254) and every other non-loopback address are refused at
the socket level in this process, and detection never sees this machine's own DMI data, so a
test that forgets to point azimds at the emulator fails loudly instead of sending a packet.
Tests that need 169.254.169.254 run it inside a private network namespace (unshare -rn), in a
subprocess, where these guards do not apply and the address is the test's own.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any, Iterator

import pytest
from hypothesis import settings

# CI runs must not fail by chance on an example no earlier run met: derandomize there.
# Local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


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


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Refuse non-loopback connections and hide the host's DMI data for the whole run."""
    os.environ["AZIMDS_DMI_DIR"] = "/nonexistent/azimds-tests-have-no-dmi"
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
