"""The IMDS rate limit: at most N requests per window per VM, above that 429."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Deque

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateLimit:
    """Requests allowed per window per VM (IMDS: 5 per second; the default profile says so)."""

    enabled: bool
    requests: int
    per_seconds: float

    def message(self) -> str:
        """Return the error text of a request over this limit."""
        return (
            f"Too many requests. IMDS allows {self.requests} requests "
            f"per {self.per_seconds:g} s per VM"
        )


class RateLimiter:
    """Counts one VM's requests in a sliding window of ``limit.per_seconds``."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._seen: Deque[float] = collections.deque()

    def allow(self) -> bool:
        """Return True when one more request fits in the window (and count it)."""
        if not self.limit.enabled:
            return True
        now = self._clock()
        while self._seen and now - self._seen[0] >= self.limit.per_seconds:
            self._seen.popleft()
        if len(self._seen) >= self.limit.requests:
            return False
        self._seen.append(now)
        return True
