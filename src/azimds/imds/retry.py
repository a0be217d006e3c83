"""When to try a request to IMDS again, how long to wait, and how fast to send at all.

``RetryPolicy`` is the rule (what Microsoft says to retry, exponential backoff with jitter,
``Retry-After``); ``RetryBudget`` applies it to one call with its deadline; ``Pacer`` keeps the
requests to one IMDS under its limit of 5 per second (``EndpointPacers``: one per endpoint).
Clocks, sleeps and randomness are injectable so that tests can run minutes of retrying in
virtual time.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional

from .paths import is_ascii_digits

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Random = Callable[[], float]


class RetryPolicy:
    """Which outcomes are retried and how long to wait in between.

    Retried: no response (timeouts, refused or reset connections, cut-short bodies), 429, 5xx,
    404 (IMDS answers 404 briefly while it is updated) and 410 (IMDS is being updated: retried
    until ``gone_window`` seconds have passed since the first 410). Every other status is final.

    Args:
        max_attempts: attempts allowed for timeouts, connection errors, 429 and 5xx (410
            answers do not count).
        not_found_attempts: attempts allowed when the answer is 404, before "not found".
        gone_window: seconds after the first 410 during which 410 is retried.
        base_delay: the wait before the first retry; it doubles for each retry after.
        max_delay: the longest wait between two attempts, unless ``Retry-After`` asks for more.
        jitter: the fraction of each wait that is random (0: none, 1: anywhere from 0 to full).
    """

    def __init__(
        self,
        max_attempts: int = 5,
        not_found_attempts: int = 3,
        gone_window: float = 70.0,
        base_delay: float = 1.0,
        max_delay: float = 10.0,
        jitter: float = 0.25,
    ) -> None:
        if max_attempts < 1 or not_found_attempts < 1:
            raise ValueError("max_attempts and not_found_attempts must be at least 1")
        if base_delay < 0 or max_delay < base_delay or not 0 <= jitter <= 1:
            raise ValueError("need 0 <= base_delay <= max_delay and 0 <= jitter <= 1")
        self.max_attempts = max_attempts
        self.not_found_attempts = not_found_attempts
        self.gone_window = gone_window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, "
            f"not_found_attempts={self.not_found_attempts}, gone_window={self.gone_window}, "
            f"base_delay={self.base_delay}, max_delay={self.max_delay}, jitter={self.jitter})"
        )

    @staticmethod
    def is_retried(status: Optional[int]) -> bool:
        """Return True when an outcome (an HTTP status, None for no response) may be retried."""
        return status is None or status in (404, 410, 429) or 500 <= status <= 599

    def backoff(self, retry_number: int, random: Random) -> float:
        """Return the wait before retry number ``retry_number`` (1 for the first retry).

        The wait is ``base_delay * 2**(retry_number - 1)``, at most ``max_delay``, of which the
        fraction ``jitter`` is random; ``random`` returns a float in [0, 1).
        """
        full = min(self.max_delay, self.base_delay * 2.0 ** min(retry_number - 1, 30))
        return full * (1.0 - self.jitter * random())


class RetryBudget:
    """One call's retry bookkeeping: counts attempts and decides on the next wait.

    Args:
        policy: the rules.
        deadline_at: the clock time after which no attempt may start.
        random: a source of floats in [0, 1) for jitter.
    """

    def __init__(self, policy: RetryPolicy, deadline_at: float, random: Random) -> None:
        self.policy = policy
        self.deadline_at = deadline_at
        self.random = random
        self.retries = 0
        self.counted = 0  # attempts that were not answered 410
        self.first_gone_at: Optional[float] = None
        self.why_stopped = ""

    def next_wait(
        self, status: Optional[int], now: float, retry_after: Optional[float] = None
    ) -> Optional[float]:
        """Return the seconds to wait before retrying after an attempt that saw ``status``.

        Args:
            status: the attempt's HTTP status, or None when no response came back.
            now: the clock time when the attempt ended.
            retry_after: the seconds asked for by the response's ``Retry-After``, if any.

        Returns:
            The wait, or None when the call must stop; ``why_stopped`` then says why.
        """
        policy = self.policy
        if not policy.is_retried(status):
            self.why_stopped = f"HTTP {status} is not retried"
            return None
        if status == 410:
            if self.first_gone_at is None:
                self.first_gone_at = now
            if now - self.first_gone_at >= policy.gone_window:
                self.why_stopped = f"still 410 after {policy.gone_window:g}s"
                return None
        else:
            self.counted += 1
            limit = policy.not_found_attempts if status == 404 else policy.max_attempts
            if self.counted >= limit:
                self.why_stopped = f"{limit} attempts made"
                return None
        wait = policy.backoff(self.retries + 1, self.random)
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        if now + wait >= self.deadline_at:
            left = max(0.0, self.deadline_at - now)
            self.why_stopped = (
                f"deadline reached: {left:.1f}s left, the next attempt was due in {wait:.1f}s"
            )
            return None
        self.retries += 1
        return wait


def parse_retry_after(value: Optional[str], wall_now: Optional[float] = None) -> Optional[float]:
    """Return the seconds a ``Retry-After`` header asks to wait, or None if absent or invalid.

    Both forms are understood: delta-seconds ("2") and an HTTP date, compared with
    ``wall_now`` (default: ``time.time()``).
    """
    if not value:
        return None
    value = value.strip()
    if is_ascii_digits(value):
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = time.time() if wall_now is None else wall_now
    return max(0.0, when - now)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _http_date(value: str) -> Optional[float]:
    """Return the epoch seconds of an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"), or None.

    Second 60 is a leap second. ``email.utils`` would also accept the obsolete date forms that
    RFC 9110 asks recipients to parse but IMDS does not send.
    """
    parts = value.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    clock = parts[4].split(":")
    numbers = [parts[1], parts[3], *clock]
    widths = [len(n) for n in numbers]  # day, year, hour, minute, second
    if widths != [2, 4, 2, 2, 2] or not all(is_ascii_digits(n) for n in numbers):
        return None
    day, year, hour, minute, second = (int(n) for n in numbers)
    if not (1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    import calendar  # only here: a date in Retry-After is rare

    return float(calendar.timegm((year, _MONTHS[parts[2]], day, hour, minute, second)))


class Pacer:
    """Spaces requests so that at most ``rate`` start in any window of ``per`` seconds.

    IMDS answers 429 to more than 5 requests per second per VM; a pacer keeps azimds below that
    so it is never the cause. ``PROCESS_PACERS`` below holds the one each endpoint's clients
    share by default.
    Thread-safe.

    Args:
        rate: requests allowed per window.
        per: the window in seconds; a small margin is added for network jitter.
        clock, sleep: injectable for tests.
    """

    def __init__(
        self,
        rate: int = 5,
        per: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        margin: float = 0.1,
    ) -> None:
        if rate < 1 or per <= 0:
            raise ValueError("a Pacer needs rate >= 1 and per > 0")
        self.rate = rate
        self.window = per + margin
        self.clock = clock
        self.sleep = sleep
        self._starts: List[float] = []  # the latest ``rate`` start times, oldest first
        self._lock = threading.Lock()

    def acquire(self, budget: float = float("inf")) -> bool:
        """Wait until a request may start, and count it as started.

        Args:
            budget: the longest acceptable wait in seconds.

        Returns:
            True once the request may go; False, without waiting, when that would take longer
            than ``budget``.
        """
        with self._lock:
            now = self.clock()
            start = now
            if len(self._starts) == self.rate:
                start = max(now, self._starts[0] + self.window)
            if start - now > budget:
                return False
            self._starts.append(start)
            del self._starts[: -self.rate]
        if start > now:
            self.sleep(start - now)
        return True


class Unpaced(Pacer):
    """A pacer that never waits: for a private emulator with its rate limit turned off."""

    def __init__(self) -> None:
        super().__init__()

    def acquire(self, budget: float = float("inf")) -> bool:
        """Return True at once."""
        return True


class EndpointPacers:
    """One pacer per endpoint (base URL), made by ``make`` on first use. Thread-safe.

    IMDS counts requests per VM: the clients of one endpoint share its pacer, and clients of
    different endpoints (an inventory of many VMs) do not slow each other down.
    """

    def __init__(self, make: Callable[[], Pacer] = Pacer) -> None:
        self.make = make
        self._pacers: Dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def pacer(self, endpoint: str) -> Pacer:
        """Return the pacer of ``endpoint``, made now if it has none yet."""
        with self._lock:
            found = self._pacers.get(endpoint)
            if found is None:
                found = self._pacers[endpoint] = self.make()
            return found


# The pacers of this process, one per endpoint, shared by every client that is not given its own
# (tests with a virtual clock, or an emulator without a rate limit).
PROCESS_PACERS = EndpointPacers()


def default_random() -> float:
    """Return a random float in [0, 1): the default source of jitter; tests pass their own."""
    import random  # on the first retry only: most calls never retry

    return random.random()
