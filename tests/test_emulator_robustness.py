"""The emulator keeps serving whatever goes wrong inside it or at the other end."""

from __future__ import annotations

import socket

import pytest

from azimds.emulator import http as emulator_http
from azimds.emulator.binding import BindRefused
from azimds.emulator.faults import Fault, FaultError
from azimds.emulator.server import Emulator
from azimds.emulator.vm import VM
from emulator_support import request as get


def test_a_bug_while_answering_gives_500_and_the_next_request_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = VM.respond
    calls = {"n": 0}

    def broken_once(self: VM, request):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return original(self, request)

    monkeypatch.setattr(VM, "respond", broken_once)
    with Emulator(rate_limit=False) as emu:
        first = get(emu.base_url, "/metadata/versions")
        assert first.status == 500
        assert "emulator failed" in first.json()["error"]
        assert get(emu.base_url, "/metadata/versions").status == 200


def test_a_silent_connection_is_closed_after_the_idle_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emulator_http, "IDLE_SECONDS", 0.3)
    with Emulator() as emu:
        host, port = emu.base_url[len("http://") :].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /metadata/versions HTTP/1.1\r\n")  # never finished
            assert sock.recv(1024) == b""  # closed by the server (the socket waits 5 s)
        assert get(emu.base_url, "/metadata/versions").status == 200


def test_a_fault_object_is_validated_like_a_mapping() -> None:
    with Emulator() as emu:
        with pytest.raises(FaultError, match="status between 400 and 599"):
            emu.add_fault(Fault(kind="status", status=200))
        with pytest.raises(FaultError, match="retry_after"):
            emu.add_fault({"kind": "status", "status": 429, "retry_after": float("nan")})


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_every_interface_is_refused_even_when_other_addresses_are_allowed(host: str) -> None:
    with pytest.raises(BindRefused, match="every interface"):
        Emulator(host=host, allow_any_address=True)
