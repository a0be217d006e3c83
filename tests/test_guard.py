"""The suite's own guard (conftest.py): only loopback may be reached, by any socket API."""

from __future__ import annotations

import socket
import sys
from typing import Any, List, Tuple

import pytest


@pytest.mark.parametrize("address", [("169.254.169.254", 80), ("192.0.2.1", 8080), ("::2", 80)])
def test_a_connect_to_a_non_loopback_address_is_refused(address: Tuple[str, int]) -> None:
    # Raised as the audit event a real connect raises first, so no packet can leave even if
    # the guard were broken.
    with pytest.raises(AssertionError, match="only loopback is allowed"):
        sys.audit("socket.connect", None, address)


def test_loopback_connects_are_allowed_and_seen_from_connect_and_connect_ex(
    socket_events: List[Tuple[str, Any]],
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            pass
        with socket.socket() as raw:
            assert raw.connect_ex(("127.0.0.1", port)) == 0
    connects = [args[1] for event, args in socket_events if event == "socket.connect"]
    assert connects == [("127.0.0.1", port), ("127.0.0.1", port)]
