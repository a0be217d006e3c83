"""The retry policy, the per-call budget and the pacer, in virtual time (no network)."""

from __future__ import annotations

import threading
import time
from typing import List, Optional

import pytest

from azimds.imds.retry import Pacer, RetryBudget, RetryPolicy, Unpaced, parse_retry_after
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
    pacer = Pacer(rate=5, per=0.2, margin=0.0)
    done: List[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            pacer.acquire()
            with lock:
                done.append(1)

    started = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 15
    assert time.monotonic() - started >= 0.4 - 0.01  # 15 starts need two more windows


def test_unpaced_never_waits() -> None:
    pacer = Unpaced()
    assert all(pacer.acquire(budget=0.0) for _ in range(100))
