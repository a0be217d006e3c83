"""The client against every fault the emulator can script, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from typing import Any, Callable, Iterator, List

import pytest

from azimds import __version__
from azimds.emulator import Emulator
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.imds import versions
from azimds.imds.client import Client, VersionMemo
from azimds.imds.errors import (
    BadRequest,
    MalformedResponse,
    NotFound,
    Redirected,
    ResponseTooLarge,
    Unavailable,
)
from azimds.imds.retry import Pacer, RetryPolicy, Unpaced
from emulator_support import FakeClock

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FAST = RetryPolicy(base_delay=0.05, max_delay=0.3)


class RecordedSleep:
    """A sleep that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(emu: Any, **options: Any) -> Client:
    """Return a client for ``emu`` with its own version memo and no pacing, unless told."""
    options.setdefault("pacer", Unpaced())
    options.setdefault("versions_memo", VersionMemo())
    return Client(emu.base_url, **options)


@pytest.fixture
def emu(imds_factory: EmulatorFactory) -> Emulator:
    """An emulator with the default VM and no rate limit."""
    return imds_factory({"rate_limit": False})


def statuses(emu: Any) -> List[int]:
    return [record.status for record in emu.requests]


# --- the request itself ---------------------------------------------------------------------


def test_one_request_for_the_whole_document_with_the_required_headers(imds: Emulator) -> None:
    document = client_for(imds, pacer=Pacer()).instance()
    assert document.api_version == versions.NEWEST
    assert document.data == versions.document_at(imds.vm.profile.instance, versions.NEWEST)
    (record,) = imds.requests
    assert record.path == "/metadata/instance"
    assert record.query == {"api-version": [versions.NEWEST]}
    assert record.headers["metadata"] == "true"
    assert record.headers["user-agent"] == f"azimds/{__version__}"
    assert UUID4.match(record.headers["x-ms-client-request-id"])
    assert "x-forwarded-for" not in record.headers


def test_each_attempt_carries_a_fresh_request_id(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 500, "times": 2})
    client_for(emu, sleep=RecordedSleep()).instance()
    ids = [record.headers["x-ms-client-request-id"] for record in emu.requests]
    assert statuses(emu) == [500, 500, 200]
    assert len(set(ids)) == 3


def test_trace_reports_each_request_without_bodies(emu: Emulator) -> None:
    lines: List[str] = []
    client_for(emu, trace=lines.append).instance()
    (line,) = lines
    assert line.startswith(f"GET /metadata/instance?api-version={versions.NEWEST} -> HTTP 200")
    assert "x-ms-client-request-id" in line
    assert "jubilee" not in line  # nothing of the document


# --- 410: IMDS is being updated ----------------------------------------------------------


def test_410_for_60_seconds_then_success_within_the_deadline_in_virtual_time(
    imds_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()
    emu = imds_factory({"rate_limit": False}, clock=clock)
    emu.add_fault({"kind": "status", "status": 410, "seconds": 60})
    client = client_for(emu, clock=clock, sleep=clock.sleep, deadline=90.0)
    started = clock()
    document = client.instance()
    assert document.data["compute"]["name"] == "jubilee"
    assert 60.0 <= clock() - started <= 71.0  # back within one wait of the 410s ending
    assert set(statuses(emu)[:-1]) == {410} and statuses(emu)[-1] == 200
    assert max(clock.slept) <= 10.0  # backoff capped, the window was ridden out


def test_410_longer_than_70_seconds_gives_up_after_70_seconds(
    imds_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()
    emu = imds_factory({"rate_limit": False}, clock=clock)
    emu.add_fault({"kind": "status", "status": 410, "seconds": 300})
    client = client_for(emu, clock=clock, sleep=clock.sleep, deadline=200.0)
    started = clock()
    with pytest.raises(Unavailable, match="still 410 after 70s") as caught:
        client.instance()
    assert 70.0 <= clock() - started <= 81.0
    assert all(attempt.status == 410 for attempt in caught.value.attempts)


def test_410_never_waits_past_a_shorter_deadline(imds_factory: EmulatorFactory) -> None:
    clock = FakeClock()
    emu = imds_factory({"rate_limit": False}, clock=clock)
    emu.add_fault({"kind": "status", "status": 410, "seconds": 60})
    client = client_for(emu, clock=clock, sleep=clock.sleep, deadline=20.0)
    started = clock()
    with pytest.raises(Unavailable, match="deadline"):
        client.instance()
    assert clock() - started < 20.0


def test_410_for_a_second_then_success_in_real_time(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 410, "seconds": 1.0})
    document = client_for(emu, policy=FAST).instance()
    assert document.data["compute"]["name"] == "jubilee"
    assert statuses(emu)[-1] == 200 and 410 in statuses(emu)


# --- 429 and the pacer ---------------------------------------------------------------------


def test_429_burst_is_retried_honouring_retry_after(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 429, "times": 2, "retry_after": 1})
    sleep = RecordedSleep()
    client_for(emu, sleep=sleep).instance()
    assert statuses(emu) == [429, 429, 200]
    assert len(sleep.waits) == 2 and all(wait >= 1.0 for wait in sleep.waits)


def test_the_pacer_keeps_a_burst_of_calls_under_the_rate_limit(
    imds_factory: EmulatorFactory,
) -> None:
    clock = FakeClock()  # one virtual time for the emulator's limit and the client's pacer
    emu = imds_factory(clock=clock)  # rate limit on: 5 requests per second
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    memo = VersionMemo()
    for _ in range(12):
        client_for(emu, pacer=pacer, versions_memo=memo, clock=clock, sleep=clock.sleep).instance()
    assert statuses(emu) == [200] * 12  # the emulator never had to say 429
    assert sum(clock.slept) >= 2.0  # the pacer waited: 12 requests cannot fit in two seconds


# --- 5xx --------------------------------------------------------------------------------------


def test_500s_are_retried_until_success(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 500, "times": 3})
    sleep = RecordedSleep()
    client_for(emu, sleep=sleep).instance()
    assert statuses(emu) == [500, 500, 500, 200]
    assert sleep.waits[0] < sleep.waits[1] < sleep.waits[2]  # exponential


def test_persistent_500s_give_unavailable_listing_every_attempt(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 500})
    with pytest.raises(Unavailable) as caught:
        client_for(emu, sleep=RecordedSleep()).instance()
    error = caught.value
    assert [a.status for a in error.attempts] == [500] * 5
    assert "5 attempts made" in str(error)
    assert "#5" in str(error) and "HTTP 500 (Internal server error" in str(error)


def test_503_retry_after_is_honoured(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 503, "times": 1, "retry_after": 3})
    sleep = RecordedSleep()
    client_for(emu, sleep=sleep).instance()
    assert sleep.waits == [3.0]


# --- broken connections and bodies ----------------------------------------------------------


def test_resets_are_retried(emu: Emulator) -> None:
    emu.add_fault({"kind": "reset", "times": 2})
    client_for(emu, sleep=RecordedSleep()).instance()
    assert statuses(emu) == [0, 0, 200]


def test_persistent_resets_give_unavailable(emu: Emulator) -> None:
    emu.add_fault({"kind": "reset"})
    with pytest.raises(Unavailable) as caught:
        client_for(emu, sleep=RecordedSleep()).instance()
    outcomes = [attempt.outcome for attempt in caught.value.attempts]
    assert len(outcomes) == 5
    assert all(("reset" in o or "closed without a response" in o) for o in outcomes), outcomes


def test_a_truncated_body_is_retried(emu: Emulator) -> None:
    emu.add_fault({"kind": "truncate", "times": 1})
    document = client_for(emu, sleep=RecordedSleep()).instance()
    assert document.data["compute"]["name"] == "jubilee"
    assert len(emu.requests) == 2


def test_persistently_truncated_bodies_give_a_clear_error(emu: Emulator) -> None:
    emu.add_fault({"kind": "truncate"})
    with pytest.raises(Unavailable, match=r"body cut short: \d+ of \d+ bytes"):
        client_for(emu, sleep=RecordedSleep()).instance()


def test_a_malformed_body_is_a_clear_error_that_shows_none_of_it(emu: Emulator) -> None:
    emu.add_fault({"kind": "malformed", "times": 1})
    with pytest.raises(MalformedResponse, match="not valid JSON") as caught:
        client_for(emu).instance()
    message = str(caught.value)
    for secret_ish in ("jubilee", "ssh-ed25519", "vmId", "compute"):
        assert secret_ish not in message
    assert len(emu.requests) == 1  # a 200 with garbage is not retried


def test_an_oversized_body_is_refused_from_its_announced_length(emu: Emulator) -> None:
    emu.add_fault({"kind": "oversized", "bytes": 8_000_000, "times": 1})
    with pytest.raises(ResponseTooLarge, match="announced 8000000 bytes") as caught:
        client_for(emu).instance()
    assert caught.value.announced == 8_000_000
    assert len(emu.requests) == 1


def test_the_size_cap_is_configurable(emu: Emulator) -> None:
    with pytest.raises(ResponseTooLarge):
        client_for(emu, max_bytes=100).instance()


@contextlib.contextmanager
def raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """Yield the URL of a loopback server that reads a request, then calls ``answer(conn)``.

    For answers the emulator has no fault for.
    """

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            with contextlib.suppress(OSError):  # the client may hang up first
                answer(self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def endless_body(conn: socket.socket) -> None:
    """200 with no Content-Length and a body that keeps coming (4 MiB at most)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    for _ in range(64):
        conn.sendall(b" " * 65536)


def deeply_nested_json(conn: socket.socket) -> None:
    """200 with JSON nested 100,000 deep: under the size cap, past any recursion limit."""
    body = b"[" * 100_000 + b"]" * 100_000
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)


def test_a_body_without_length_is_cut_off_at_the_cap() -> None:
    with raw_server(endless_body) as url:
        client = Client(url, pacer=Unpaced(), versions_memo=VersionMemo())
        with pytest.raises(ResponseTooLarge, match="kept coming"):
            client.instance()


def test_hostile_nesting_is_a_malformed_response_not_a_crash() -> None:
    with raw_server(deeply_nested_json) as url:
        client = Client(url, pacer=Unpaced(), versions_memo=VersionMemo())
        with pytest.raises(MalformedResponse, match=r"not valid JSON.*nested too deeply"):
            client.instance()


def test_a_redirect_is_refused_and_not_followed(
    emu: Emulator, imds_factory: EmulatorFactory
) -> None:
    elsewhere = imds_factory({"rate_limit": False})
    target = f"{elsewhere.base_url}/metadata/instance?api-version={versions.NEWEST}"
    emu.add_fault({"kind": "redirect", "location": target, "times": 1})
    with pytest.raises(Redirected, match="never follows redirects") as caught:
        client_for(emu).instance()
    assert caught.value.location == target
    assert elsewhere.requests == []


# --- no proxy, ever -----------------------------------------------------------------------


def test_proxy_environment_is_ignored(
    emu: Emulator, imds_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    trap = imds_factory({"rate_limit": False})
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, trap.base_url)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    client_for(emu).instance()
    assert len(emu.requests) == 1
    assert trap.requests == []


def test_a_proxy_that_would_fail_is_ignored(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert client_for(emu).instance().data["compute"]["name"] == "jubilee"


# --- timeouts and the deadline ------------------------------------------------------------


def test_a_stalled_server_is_given_up_on_with_a_timeout(emu: Emulator) -> None:
    # The arithmetic of timeouts and the deadline is tested in virtual time (test_client_send);
    # this checks that a real socket really times out.
    emu.add_fault({"kind": "latency", "delay": 10})
    client = client_for(emu, deadline=1.0, read_timeout=5.0)
    with pytest.raises(Unavailable, match=r"timed out|deadline") as caught:
        client.instance()
    assert caught.value.attempts[0].outcome == "timed out waiting for the response"


def test_a_slow_answer_is_waited_for_within_the_read_timeout(emu: Emulator) -> None:
    emu.add_fault({"kind": "latency", "delay": 0.3, "times": 1})
    client_for(emu, read_timeout=2.0).instance()
    assert len(emu.requests) == 1


def test_a_read_timeout_is_retried(emu: Emulator) -> None:
    emu.add_fault({"kind": "latency", "delay": 2.0, "times": 1})
    document = client_for(emu, read_timeout=0.3, policy=FAST).instance()
    assert document.data["compute"]["name"] == "jubilee"
    assert len(emu.requests) == 2


def test_refused_connections_are_retried_then_reported() -> None:
    with socket.socket() as holder:  # bound, not listening: refused, and nobody else's port
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        sleep = RecordedSleep()
        client = Client(f"http://127.0.0.1:{port}", pacer=Unpaced(), sleep=sleep)
        with pytest.raises(Unavailable, match="connection refused") as caught:
            client.instance()
    assert len(caught.value.attempts) == 5 and len(sleep.waits) == 4


# --- answers that are final -----------------------------------------------------------------


def test_a_leaf_asked_as_json_is_a_bad_request_with_a_hint(emu: Emulator) -> None:
    with pytest.raises(BadRequest, match="ask with format text") as caught:
        client_for(emu).get("compute/zone")
    assert caught.value.status == 400
    assert "leaf node requires format=text" in caught.value.service_error
    assert len(emu.requests) == 1  # a 400 is never retried


def test_a_leaf_asked_as_text(emu: Emulator) -> None:
    node = client_for(emu).get("compute/zone", format="text")
    assert (node.value, node.path) == ("1", "compute/zone")
    assert client_for(emu).get("/metadata/instance/compute/zone", format="text").value == "1"
    assert client_for(emu).get("compute.zone", format="text").value == "1"


def test_a_node_asked_as_json(emu: Emulator) -> None:
    node = client_for(emu).get("network/interface/0/ipv4")
    assert isinstance(node.value, dict) and "ipAddress" in node.value


def test_a_missing_element_is_not_found_after_the_allowed_retries(emu: Emulator) -> None:
    sleep = RecordedSleep()
    with pytest.raises(NotFound, match="404 on 3 attempt") as caught:
        client_for(emu, sleep=sleep).get("network/interface/7")
    assert caught.value.attempts == 3
    assert statuses(emu) == [404, 404, 404]


def test_versions_lists_what_the_emulator_offers(emu: Emulator) -> None:
    assert client_for(emu).versions() == list(versions.INSTANCE_VERSIONS)


def test_bad_arguments_are_refused_before_any_traffic(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="format"):
        client_for(emu).get("compute", format="xml")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        client_for(emu, api_version="latest")
    with pytest.raises(ValueError, match="http://HOST"):
        Client("https://169.254.169.254")
    with pytest.raises(ValueError, match="http://HOST"):
        Client("http://127.0.0.1:1/metadata")
    assert emu.requests == []
