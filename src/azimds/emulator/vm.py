"""One emulated VM: its IMDS routes behind its scripted faults, rate limit and request journal."""

from __future__ import annotations

import collections
import datetime
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Mapping, Optional, Union

from .authority import CertificateAuthority
from .faults import Fault, FaultBook, fault_from_mapping, validate_fault
from .http import Outcome
from .profile import VMProfile
from .ratelimit import Clock, RateLimit, RateLimiter
from .routes import JSON_TYPE, Request, Response, VMRoutes, error, json_response

JOURNAL_SIZE = 10_000

# What a scripted status fault says, in the documented "Reason. Detail" style.
FAULT_MESSAGES = {
    404: "Not found. The requested element does not exist yet; retry",
    410: "Gone. IMDS is being updated; retry, it is back within 70 seconds",
    429: "Too many requests. Slow down and retry",
    500: "Internal server error. Retry after some time",
    503: "Service unavailable. Retry after some time",
}
FAULT_MESSAGE_OTHERWISE = "Scripted failure. Retry after some time"


@dataclass(frozen=True)
class RequestRecord:
    """One request a VM received, as tests and the control API see it."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    status: int  # 0 when the connection was reset instead of answered
    at: float


class VM:
    """One emulated VM: routes, rate limit, faults and journal."""

    def __init__(
        self,
        profile: VMProfile,
        clock: Clock,
        rate_limit: Optional[bool],
        authority: Optional[CertificateAuthority] = None,
    ) -> None:
        self.profile = profile
        self.name = profile.name
        self.authority = authority or CertificateAuthority()
        self.routes = VMRoutes(profile, attested=self._attested)
        limit = profile.rate_limit
        if rate_limit is not None:
            limit = RateLimit(rate_limit, limit.requests, limit.per_seconds)
        self.limiter = RateLimiter(limit, clock)
        self.faults = FaultBook()
        for spec in profile.faults:
            self.faults.add(fault_from_mapping(spec))
        self.journal: Deque[RequestRecord] = collections.deque(maxlen=JOURNAL_SIZE)
        self.base_url = ""
        self.clock = clock

    def add_fault(self, spec: Union[Mapping[str, Any], Fault]) -> Fault:
        """Script a fault (a mapping as in profiles, or a Fault); return it.

        Raises:
            FaultError: the description is invalid.
        """
        if isinstance(spec, Fault):
            validate_fault(spec)
            fault = spec
        else:
            fault = fault_from_mapping(spec)
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every scripted fault."""
        self.faults.clear()

    @property
    def requests(self) -> List[RequestRecord]:
        """Return the requests received so far (the newest 10,000), oldest first."""
        return list(self.journal)

    def respond(self, request: Request) -> Outcome:
        """Return this VM's answer to ``request``, applying faults and the rate limit."""
        fault = self.faults.take(request.path, self.clock())
        outcome = self._faulted(request, fault) if fault else None
        if outcome is None:
            if self.limiter.allow():
                outcome = Outcome(self.routes.handle(request), fault)
            else:
                outcome = Outcome(error(429, self.limiter.limit.message()))
        status = 0 if fault is not None and fault.kind == "reset" else outcome.response.status
        self.journal.append(
            RequestRecord(
                request.method, request.path, request.query, request.headers, status, self.clock()
            )
        )
        return outcome

    def _faulted(self, request: Request, fault: Fault) -> Optional[Outcome]:
        """Return the outcome a fault dictates, or None when the normal answer goes out."""
        if fault.kind == "status":
            response = error(
                fault.status, FAULT_MESSAGES.get(fault.status, FAULT_MESSAGE_OTHERWISE)
            )
            if fault.retry_after is not None:
                response.headers.append(("Retry-After", f"{fault.retry_after:g}"))
            return Outcome(response, fault)
        if fault.kind == "redirect":
            return Outcome(
                Response(fault.status, b"", JSON_TYPE, [("Location", fault.location)]), fault
            )
        if fault.kind == "oversized":
            filler = b"x" * max(0, fault.bytes - len(b'{"padding":""}'))
            return Outcome(Response(200, b'{"padding":"' + filler + b'"}'), fault)
        if fault.kind == "malformed":
            body = self.routes.handle(request).body
            return Outcome(Response(200, body[: len(body) // 2] + b'\x00{"', JSON_TYPE), fault)
        return None  # latency, truncate and reset act on the normal answer at the transport

    def _attested(self, version: str, nonce: Optional[str]) -> Response:
        """Answer /metadata/attested/document: sign this VM's content with the test CA."""
        from . import attested

        status, body = attested.answer(
            self.authority.get(),
            self.profile.instance,
            version,
            nonce,
            now=datetime.datetime.now(datetime.timezone.utc),
            ca_issuers_url=self.base_url + attested.INTERMEDIATE_DER_PATH,
        )
        return json_response(status, body)
