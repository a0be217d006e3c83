"""The retry policy, the per-call budget and the pacer, in virtual time (no network)."""

from __future__ import annotations

import threading
from typing import List, Optional

import pytest

from azimds.imds.client import Client
from azimds.imds.retry import (
    EndpointPacers,
    Pacer,
    RetryBudget,
    RetryPolicy,
    Unpaced,
    parse_retry_after,
)
from emulator_support import FakeClock


def no_jitter() -> float:
    return 0.0


def budget(policy: RetryPolicy, deadline: float = 1000.0) -> RetryBudget:
    return RetryBudget(policy, deadline_at=deadline, random=no_jitter)


@pytest.mark.parametrize("status", [None, 404, 410, 429, 500, 502, 503, 504, 599])
def test_microsoft_retries_these(status: Optional[int]) -> None:
    assert RetryPolicy.is_retried(status)


@pytest.mark.parametrize("status", [200, 301, 307, 400, 401, 403, 405, 409, 413, 431])
def test_never_retries_other_answers(status: int) -> None:
    assert not RetryPolicy.is_retried(status)
    b = budget(RetryPolicy())
    assert b.next_wait(status, now=0.0) is None
    assert b.why_stopped == f"HTTP {status} is not retried"


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.0)
    waits = [policy.backoff(n, no_jitter) for n in range(1, 8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_jitter_only_shortens_a_wait_by_at_most_its_fraction() -> None:
    policy = RetryPolicy(base_delay=4.0, max_delay=4.0, jitter=0.25)
    assert policy.backoff(1, lambda: 0.0) == 4.0
    assert policy.backoff(1, lambda: 0.999999) == pytest.approx(3.0, abs=1e-5)


def test_five_hundreds_stop_after_max_attempts() -> None:
    b = budget(RetryPolicy(max_attempts=4, jitter=0.0))
    waits = [b.next_wait(500, now=0.0) for _ in range(4)]
    assert waits == [1.0, 2.0, 4.0, None]
    assert b.why_stopped == "4 attempts made"


def test_not_found_has_its_own_smaller_budget() -> None:
    b = budget(RetryPolicy(max_attempts=10, not_found_attempts=3, jitter=0.0))
    assert [b.next_wait(404, now=0.0) for _ in range(3)] == [1.0, 2.0, None]


def test_gone_is_retried_until_70_seconds_after_the_first_410_whatever_the_attempts() -> None:
    clock = FakeClock(0.0)
    b = budget(RetryPolicy(max_attempts=2, jitter=0.0), deadline=500.0)
    clock.now = 5.0  # the first 410 arrives 5 s into the call
    seen = 0
    while True:
        seen += 1
        wait = b.next_wait(410, now=clock())
        if wait is None:
            break
        clock.sleep(wait)
    assert seen > 2  # max_attempts does not apply to 410
    assert 75.0 <= clock.now < 85.0  # stopped at the first answer 70 s or more after 5 s
    assert b.why_stopped == "still 410 after 70s"
    assert max(clock.slept) == 10.0


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    b = budget(RetryPolicy(jitter=0.0))
    assert b.next_wait(429, now=0.0, retry_after=7.0) == 7.0
    assert b.next_wait(429, now=7.0, retry_after=0.5) == 2.0  # backoff is longer


def test_no_wait_reaches_past_the_deadline() -> None:
    b = budget(RetryPolicy(jitter=0.0), deadline=10.0)
    assert b.next_wait(503, now=8.5) == 1.0
    assert b.next_wait(503, now=9.6) is None  # 2 s more would pass 10 s
    assert "deadline" in b.why_stopped


def test_a_retry_after_past_the_deadline_stops_at_once() -> None:
    b = budget(RetryPolicy(), deadline=30.0)
    assert b.next_wait(429, now=0.0, retry_after=3600.0) is None


def test_parse_retry_after_both_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", wall_now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", wall_now=1445412490.0) == 0.0
    for nonsense in (
        None,
        "",
        "soon",
        "-1",
        "1.5e9x",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 07:28 GMT",
        "Wed, 21 Oct 2015 07:28:00 PST",
        "Wed, 21 Oct 2015 25:00:00 GMT",
    ):
        assert parse_retry_after(nonsense) is None


EPOCH_2015_10_21 = 1445385600.0  # Wed, 21 Oct 2015 00:00:00 GMT


@pytest.mark.parametrize(
    ("date", "seconds_after_midnight"),
    [
        ("Wed, 21 Oct 2015 23:59:59 GMT", 86399.0),
        ("Wed, 21 Oct 2015 23:59:60 GMT", 86400.0),  # a leap second
        ("Sat, 31 Oct 2015 00:00:00 GMT", 10 * 86400.0),
        ("Thu, 01 Oct 2015 00:00:00 GMT", -20 * 86400.0),
    ],
)
def test_retry_after_dates_at_the_edge_of_every_bound_are_read(
    date: str, seconds_after_midnight: float
) -> None:
    now = EPOCH_2015_10_21 + seconds_after_midnight - 5.0
    assert parse_retry_after(date, wall_now=now) == 5.0


@pytest.mark.parametrize(
    "date",
    [
        "Wed, 21 Oct 2015 24:00:00 GMT",
        "Wed, 21 Oct 2015 23:60:00 GMT",
        "Wed, 21 Oct 2015 23:59:61 GMT",
        "Wed, 32 Oct 2015 00:00:00 GMT",
        "Wed, 00 Oct 2015 00:00:00 GMT",
        "Wed, 21 Oct 02015 00:00:00 GMT",
        "Wed, 21 Oct 2015 007:00:00 GMT",
        "Wed, 21 Oct 2015 0²:00:00 GMT",
        "Wed, 21 Oct 2015 00:00:00 GMT extra",
    ],
)
def test_retry_after_dates_past_a_bound_are_ignored(date: str) -> None:
    assert parse_retry_after(date, wall_now=0.0) is None


@pytest.mark.parametrize("value", ["²", "1²", "٣", "\uff15", "3.5", "+3", "3 s"])
def test_retry_after_seconds_are_ascii_digits_only(value: str) -> None:
    assert parse_retry_after(value) is None


def test_a_wait_that_ends_exactly_at_the_deadline_is_not_taken() -> None:
    b = budget(RetryPolicy(jitter=0.0), deadline=10.0)
    assert b.next_wait(503, now=0.0, retry_after=9.999) == 9.999
    b = budget(RetryPolicy(jitter=0.0), deadline=10.0)
    assert b.next_wait(503, now=0.0, retry_after=10.0) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=5.0, max_delay=1.0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2.0)


def test_pacer_lets_five_through_then_spaces_the_rest() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=5, per=1.0, clock=clock, sleep=clock.sleep, margin=0.1)
    starts = []
    for _ in range(12):
        assert pacer.acquire()
        starts.append(clock())
    assert starts[:5] == [0.0] * 5
    for i in range(5, 12):  # never more than 5 starts in any 1.1 s window
        assert starts[i] - starts[i - 5] >= 1.1 - 1e-9


def test_pacer_refuses_a_wait_longer_than_the_budget() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=1, per=1.0, clock=clock, sleep=clock.sleep, margin=0.0)
    assert pacer.acquire(budget=0.0)
    assert not pacer.acquire(budget=0.5)
    assert clock.slept == []
    assert pacer.acquire(budget=1.0)
    assert clock.now == 1.0


def test_pacer_is_thread_safe() -> None:
    # Virtual time that never moves: every start is planned under the lock, so 15 threads'
    # requests must get exactly the slots 0 (5 of them), 1 window (5) and 2 windows (5).
    planned: List[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            planned.append(seconds)

    pacer = Pacer(rate=5, per=1.0, clock=lambda: 0.0, sleep=sleep, margin=0.0)
    barrier = threading.Barrier(15)

    def work() -> None:
        barrier.wait()  # all at once
        pacer.acquire()

    threads = [threading.Thread(target=work) for _ in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(planned) == [1.0] * 5 + [2.0] * 5  # the first five did not wait


def test_unpaced_never_waits() -> None:
    pacer = Unpaced()
    assert all(pacer.acquire(budget=0.0) for _ in range(100))


def test_endpoint_pacers_give_each_endpoint_its_own_pacer_and_share_it() -> None:
    pacers = EndpointPacers()
    first = pacers.pacer("http://127.0.0.1:8169")
    assert pacers.pacer("http://127.0.0.1:8169") is first
    assert pacers.pacer("http://127.0.0.1:8170") is not first
    assert isinstance(EndpointPacers(Unpaced).pacer("http://127.0.0.1:8169"), Unpaced)


def test_clients_of_one_endpoint_share_its_pacer_by_default_and_a_given_one_wins() -> None:
    one = Client("http://127.0.0.1:8169", environ={})
    assert Client("http://127.0.0.1:8169/", environ={}).pacer is one.pacer  # one base URL
    assert Client("http://127.0.0.1:8170", environ={}).pacer is not one.pacer
    own = Pacer()
    assert Client("http://127.0.0.1:8169", environ={}, pacer=own).pacer is own
