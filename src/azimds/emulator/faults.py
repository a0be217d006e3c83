"""Scripted faults: what an emulated VM does wrong, when, and for how long.

A fault applies to requests whose path is its ``path`` or below it. Faults are consumed in the
order they were added: the first matching fault serves requests until it is exhausted (after
``times`` requests, or ``seconds`` after its first hit), then the next one takes over. A fault
with neither limit lasts until it is cleared.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional

KINDS = ("status", "latency", "reset", "truncate", "malformed", "oversized", "redirect")


class FaultError(ValueError):
    """A fault description is invalid; the message says which field and what is allowed."""


@dataclass
class Fault:
    """One scripted misbehaviour and its remaining life."""

    kind: str
    path: str = "/metadata"
    status: int = 0
    times: Optional[int] = None
    seconds: Optional[float] = None
    delay: float = 0.0
    bytes: int = 4 * 1024 * 1024
    location: str = "http://127.0.0.1:9/elsewhere"
    retry_after: Optional[float] = None
    hits: int = 0
    first_hit: Optional[float] = None

    def matches(self, path: str) -> bool:
        """Return True when this fault applies to a request for ``path``."""
        base = self.path.rstrip("/")
        return path == self.path or path == base or path.startswith(base + "/")

    def exhausted(self, now: float) -> bool:
        """Return True when this fault has served all the requests or time it was given."""
        if self.times is not None and self.hits >= self.times:
            return True
        return (
            self.seconds is not None
            and self.first_hit is not None
            and now - self.first_hit >= self.seconds
        )

    def describe(self) -> Dict[str, Any]:
        """Return this fault as the JSON-ready mapping the control API lists."""
        return asdict(self)


def fault_from_mapping(data: Mapping[str, Any]) -> Fault:
    """Return the fault described by ``data`` (from a profile, the control API or Python).

    Raises:
        FaultError: the kind is unknown, a field is unknown, or a value is out of range.
    """
    if not isinstance(data, Mapping):
        raise FaultError(f"a fault must be a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultError(f"fault kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    allowed = {
        "kind",
        "path",
        "status",
        "times",
        "seconds",
        "delay",
        "bytes",
        "location",
        "retry_after",
    }
    unknown = set(data) - allowed
    if unknown:
        raise FaultError(f"unknown fault field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        fault = Fault(
            kind=str(kind),
            path=str(data.get("path", "/metadata")),
            status=int(data.get("status", 307 if kind == "redirect" else 0)),
            times=None if data.get("times") is None else int(data["times"]),
            seconds=None if data.get("seconds") is None else float(data["seconds"]),
            delay=float(data.get("delay", 0.0)),
            bytes=int(data.get("bytes", 4 * 1024 * 1024)),
            location=str(data.get("location", "http://127.0.0.1:9/elsewhere")),
            retry_after=None if data.get("retry_after") is None else float(data["retry_after"]),
        )
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e999)
        raise FaultError(
            f"fault {dict(data)!r}: status/times/bytes must be integers, "
            "seconds/delay/retry_after numbers"
        ) from None
    validate_fault(fault)
    return fault


def validate_fault(fault: Fault) -> None:
    """Check a fault's fields, however it was made.

    Raises:
        FaultError: a field is out of range; the message says which and what is allowed.
    """
    if not fault.path.startswith("/"):
        raise FaultError(f"fault path {fault.path!r} must start with '/'")
    if fault.kind == "status" and not 400 <= fault.status <= 599:
        raise FaultError("a 'status' fault needs status between 400 and 599, e.g. 410 or 500")
    if fault.kind == "redirect" and fault.status not in (301, 302, 303, 307, 308):
        raise FaultError("a 'redirect' fault needs status 301, 302, 303, 307 or 308")
    if fault.kind == "latency" and not 0 < fault.delay <= 600:
        raise FaultError("a 'latency' fault needs delay in seconds, above 0 and at most 600")
    if fault.retry_after is not None and not 0 <= fault.retry_after <= 86400:  # also NaN
        raise FaultError("fault 'retry_after' must be seconds between 0 and 86400")
    if fault.times is not None and fault.times < 1:
        raise FaultError("fault 'times' must be at least 1 (leave it out for 'until cleared')")
    if fault.seconds is not None and not fault.seconds > 0:  # also NaN
        raise FaultError("fault 'seconds' must be above 0")
    if fault.kind == "oversized" and not 14 <= fault.bytes <= 256 * 1024 * 1024:
        # 14 bytes is the smallest body it sends: {"padding":""}
        raise FaultError("an 'oversized' fault needs bytes between 14 and 256 MiB")
    if not fault.location.isprintable():
        raise FaultError("fault 'location' must not contain control characters (CR, LF, ...)")


class FaultBook:
    """The ordered faults of one VM; safe to change from any thread while serving."""

    def __init__(self) -> None:
        self._faults: List[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` after those already scripted."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget every scripted fault."""
        with self._lock:
            self._faults.clear()

    def listing(self, now: float) -> List[Dict[str, Any]]:
        """Return the faults still to come at ``now``, in order, as JSON-ready mappings."""
        with self._lock:
            self._faults = [fault for fault in self._faults if not fault.exhausted(now)]
            return [fault.describe() for fault in self._faults]

    def take(self, path: str, now: float) -> Optional[Fault]:
        """Return the fault that applies to a request for ``path`` at ``now``, counting the hit.

        Exhausted faults are dropped on the way.
        """
        if not self._faults:
            return None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(path):
                    continue
                if fault.exhausted(now):
                    self._faults.remove(fault)
                    continue
                if fault.first_hit is None:
                    fault.first_hit = now
                if fault.exhausted(now):  # a window that is already over
                    self._faults.remove(fault)
                    continue
                fault.hits += 1
                return fault
        return None
