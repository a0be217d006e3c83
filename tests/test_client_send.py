"""The client without a socket: its send function answers, a virtual clock keeps the time.

What goes over the wire is tested over real HTTP elsewhere (test_client_faults.py); here the
client's own decisions are: what it asks, with which limits, what it makes of odd answers,
and how it keeps its deadline.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import pytest

from azimds.imds import versions
from azimds.imds.client import Client, VersionMemo
from azimds.imds.endpoint import Endpoint
from azimds.imds.errors import MalformedResponse, NoSuchNode, Unavailable
from azimds.imds.retry import RetryPolicy, Unpaced
from azimds.imds.transport import Response, TransportError
from emulator_support import FakeClock

URL = "http://127.0.0.1:8169"
DOCUMENT = {"compute": {"name": "jubilee", "zone": "1"}, "network": {"interface": []}}
Answer = Union[Response, TransportError, Callable[[], Response]]


class FakeSend:
    """A send function answering from a list (the last answer repeats), recording each call.

    A TransportError answer first moves the virtual clock by the time a real socket would
    have waited (the read timeout, or less when the deadline comes first), then is raised.
    """

    def __init__(self, clock: FakeClock, *answers: Answer) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.calls: List[Dict[str, Any]] = []

    def __call__(
        self,
        endpoint: Endpoint,
        target: str,
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        deadline_at: float,
        clock: Callable[[], float],
        max_bytes: int,
    ) -> Response:
        self.calls.append(
            {
                "at": clock(),
                "target": target,
                "headers": dict(headers),
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "deadline_at": deadline_at,
                "max_bytes": max_bytes,
            }
        )
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, TransportError):
            self.clock.advance(min(read_timeout, deadline_at - clock()))
            raise answer
        return answer() if callable(answer) else answer


def ok(payload: Any) -> Response:
    return Response(200, "OK", {"content-type": "application/json"}, json.dumps(payload).encode())


def raw(status: int, body: bytes, **headers: str) -> Response:
    return Response(status, "Whatever", {k.replace("_", "-"): v for k, v in headers.items()}, body)


def client(send: FakeSend, **options: Any) -> Client:
    options.setdefault("pacer", Unpaced())
    options.setdefault("versions_memo", VersionMemo())
    options.setdefault("random", lambda: 0.0)
    return Client(URL, clock=send.clock, sleep=send.clock.sleep, send=send, **options)


def test_the_limits_reach_the_send_function_by_name() -> None:
    send = FakeSend(FakeClock(), ok(DOCUMENT))
    document = client(send, connect_timeout=1.5, read_timeout=4.0, max_bytes=4096).instance()
    assert document.data == DOCUMENT and document.endpoint == URL
    (call,) = send.calls
    assert call["target"] == f"/metadata/instance?api-version={versions.NEWEST}"
    assert call["headers"]["Metadata"] == "true"
    assert (call["connect_timeout"], call["read_timeout"], call["max_bytes"]) == (1.5, 4.0, 4096)
    assert call["deadline_at"] == call["at"] + 90.0


def test_a_server_that_never_answers_costs_the_deadline_and_no_more() -> None:
    clock = FakeClock()
    send = FakeSend(clock, TransportError("timed out waiting for the response"))
    started = clock()
    with pytest.raises(Unavailable, match="deadline") as caught:
        client(send, deadline=12.0, read_timeout=5.0).instance()
    assert clock() - started <= 12.0
    assert {call["deadline_at"] for call in send.calls} == {started + 12.0}
    # 5 s each, waits of 1 s then 2 s: the third attempt is cut short by the deadline.
    assert [call["at"] - started for call in send.calls] == [0.0, 6.0]
    assert len(caught.value.attempts) == 2


def test_retries_stop_when_the_next_wait_would_pass_the_deadline() -> None:
    clock = FakeClock()
    send = FakeSend(clock, raw(500, b'{"error": "Internal error"}'))
    policy = RetryPolicy(max_attempts=100, base_delay=0.2, jitter=0.0)
    with pytest.raises(Unavailable, match="deadline reached"):
        client(send, deadline=1.5, policy=policy).instance()
    assert clock.slept == [0.2, 0.4, 0.8]  # 1.4 s; the next wait (1.6 s) would pass 1.5 s


@pytest.mark.parametrize("header", ["²", "1²", "٣", "3.5", "-1", "+3", ""])
def test_a_retry_after_that_is_not_ascii_digits_is_ignored(header: str) -> None:
    clock = FakeClock()
    send = FakeSend(clock, raw(503, b"{}", retry_after=header), ok(DOCUMENT))
    assert client(send).instance().data == DOCUMENT
    assert clock.slept == [1.0]  # the policy's own first wait


def test_a_retry_after_in_ascii_digits_is_honoured() -> None:
    clock = FakeClock()
    send = FakeSend(clock, raw(429, b"{}", retry_after="7"), ok(DOCUMENT))
    client(send).instance()
    assert clock.slept == [7.0]


def test_a_retry_after_past_the_deadline_stops_at_once() -> None:
    clock = FakeClock()
    send = FakeSend(clock, raw(429, b"{}", retry_after="3600"), ok(DOCUMENT))
    with pytest.raises(Unavailable, match="deadline reached"):
        client(send, deadline=90.0).instance()
    assert clock.slept == [] and len(send.calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"compute": {"zone": NaN}, "network": {}}',
        b'{"compute": {"zone": Infinity}, "network": {}}',
        b'{"compute": {"zone": -Infinity}, "network": {}}',
        b'{"compute": {"zone": 1e999}, "network": {}}',
        b'{"compute": {"zone": ' + b"1" * 5000 + b"}, " + b'"network": {}}',
    ],
)
def test_a_body_that_is_not_strict_json_is_malformed(body: bytes) -> None:
    send = FakeSend(FakeClock(), raw(200, body))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        client(send).instance()
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        client(send).get("compute")


def test_an_attested_document_that_repeats_a_key_is_refused_not_collapsed() -> None:
    # json.loads would keep the last "signature" silently; a signed document must say one thing.
    twice = b'{"encoding": "pkcs7", "signature": "AAAA", "signature": "BBBB"}'
    send = FakeSend(FakeClock(), raw(200, twice))
    with pytest.raises(MalformedResponse, match="the key 'signature' appears twice"):
        client(send, api_version="2021-02-01").attested_document("abc")
    once = b'{"encoding": "pkcs7", "signature": "AAAA"}'
    one_key_each = client(FakeSend(FakeClock(), raw(200, once)), api_version="2021-02-01")
    assert one_key_each.attested_document("abc") == (
        {"encoding": "pkcs7", "signature": "AAAA"},
        "2021-02-01",
    )


def test_progress_says_what_the_last_attempt_saw_and_when_the_next_comes() -> None:
    clock = FakeClock()
    send = FakeSend(clock, TransportError("cannot connect: connection refused"), ok(DOCUMENT))
    lines: List[str] = []
    client(send, progress=lines.append).instance()
    assert lines == [f"attempt 2 in 1.0s ({URL}: cannot connect: connection refused)"]


def test_network_text_in_progress_and_errors_is_printable() -> None:
    clock = FakeClock()
    hostile = b'{"error": "Bad\\u001b[2J\\r\\u0007 request"}'
    send = FakeSend(clock, raw(500, hostile), raw(400, hostile))
    lines: List[str] = []
    traces: List[str] = []
    with pytest.raises(Exception) as caught:
        client(send, progress=lines.append, trace=traces.append).instance()
    for text in [*lines, *traces, str(caught.value)]:
        assert text.isprintable(), text
        assert "Bad?[2J?? request" in text or "HTTP 400" in text


def test_a_path_that_cannot_exist_sends_nothing() -> None:
    send = FakeSend(FakeClock(), ok(DOCUMENT))
    with pytest.raises(NoSuchNode) as caught:
        client(send).get("compute/zone/extra")
    assert caught.value.problem == "compute/zone is a single value: it has no 'extra'"
    assert caught.value.attempts == 0
    assert send.calls == []


def test_the_path_is_judged_at_the_version_that_will_be_asked() -> None:
    send = FakeSend(FakeClock(), ok(DOCUMENT))
    with pytest.raises(NoSuchNode, match="At api-version 2017-04-02 it has: location, name"):
        client(send, api_version="2017-04-02").get("compute/Name")


def unreachable_advice(endpoint: Optional[str], environ: Mapping[str, str]) -> str:
    clock = FakeClock()
    send = FakeSend(clock, TransportError("cannot connect: connection refused"))
    the_client = Client(
        endpoint,
        environ=environ,
        clock=clock,
        sleep=clock.sleep,
        send=send,
        pacer=Unpaced(),
        versions_memo=VersionMemo(),
        deadline=5.0,
    )
    with pytest.raises(Unavailable) as caught:
        the_client.instance()
    return str(caught.value)


def test_an_explicit_loopback_endpoint_that_does_not_answer_asks_about_the_emulator() -> None:
    message = unreachable_advice(None, {"AZIMDS_ENDPOINT": "http://127.0.0.1:8169"})
    assert "http://127.0.0.1:8169/metadata/instance" in message
    assert "is the emulator running?" in message
    assert "AZIMDS_ENDPOINT=http://127.0.0.1:8169 is set" in message
    assert "169.254.169.254" not in message


def test_another_explicit_endpoint_is_named_not_the_imds_address() -> None:
    message = unreachable_advice("http://10.9.8.7:80", {})
    assert "Check that http://10.9.8.7:80 (endpoint http://10.9.8.7:80 was given)" in message
    assert "emulator" not in message and "169.254.169.254" not in message


@pytest.mark.parametrize("option", ["deadline", "connect_timeout", "read_timeout"])
@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.0, -1.0])
def test_a_deadline_or_timeout_that_is_not_positive_and_finite_is_refused(
    option: str, seconds: float
) -> None:
    # nan would mean no deadline at all: every comparison with it is False
    options: Dict[str, Any] = {option: seconds}
    with pytest.raises(ValueError, match=f"{option} must be a positive, finite number"):
        Client("http://127.0.0.1:9", environ={}, **options)
