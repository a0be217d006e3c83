"""Scripted faults: what an emulated VM does wrong, when, and for how long.

A fault applies to requests whose path is its ``path`` or below it. Faults are consumed in the
order they were added: the first matching fault serves requests until it is exhausted (after
``times`` requests, or ``seconds`` after its first hit), then the next one takes over. A fault
with neither limit lasts until it is cleared.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Dict, List, Mapping, Optional

KINDS = ("status", "latency", "reset", "truncate", "malformed", "oversized", "redirect")

# The status a fault answers with when none is given: only a redirect has one.
DEFAULT_STATUS = {"redirect": 307}


class FaultError(ValueError):
    """A fault description is invalid; the message says which field and what is allowed."""


@dataclass
class Fault:
    """One scripted misbehaviour and its remaining life.

    Every default of a fault lives here: ``fault_from_mapping`` fills only what it is given.
    ``status`` 0 means the kind's default (``DEFAULT_STATUS``).
    """

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

    def __post_init__(self) -> None:
        if not self.status:
            self.status = DEFAULT_STATUS.get(self.kind, 0)

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


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


# What each field of a fault description takes; the kind is checked against KINDS.
_FIELD_TYPES: Dict[str, Callable[[Any], Any]] = {
    "kind": _text,
    "path": _text,
    "status": _integer,
    "times": _integer,
    "seconds": _number,
    "delay": _number,
    "bytes": _integer,
    "location": _text,
    "retry_after": _number,
}
FIELDS = tuple(_FIELD_TYPES)
assert set(FIELDS) | {"hits", "first_hit"} == {f.name for f in fields(Fault)}


def fault_from_mapping(data: Mapping[str, Any]) -> Fault:
    """Return the fault described by ``data`` (from a profile, the command line, the control
    API or Python); fields not given take the defaults of ``Fault``.

    Raises:
        FaultError: the kind is unknown, a field is unknown, or a value is out of range.
    """
    if not isinstance(data, Mapping):
        raise FaultError(f"a fault must be a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultError(f"fault kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    unknown = sorted(str(key) for key in data if key not in _FIELD_TYPES)
    if unknown:
        raise FaultError(f"unknown fault field(s) {unknown}; allowed: {sorted(FIELDS)}")
    given: Dict[str, Any] = {}
    for name, value in data.items():
        if value is None and name in ("times", "seconds", "retry_after"):
            continue  # null: not limited / no header, as when left out
        try:
            given[name] = _FIELD_TYPES[name](value)
        except TypeError:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise FaultError(
                f"fault field {name!r} is {shown}: status/times/bytes must be integers, "
                "seconds/delay/retry_after numbers, path/location strings"
            ) from None
    fault = Fault(**given)
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
    if fault.seconds is not None and not (fault.seconds > 0 and math.isfinite(fault.seconds)):
        raise FaultError("fault 'seconds' must be above 0 (and finite)")
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
