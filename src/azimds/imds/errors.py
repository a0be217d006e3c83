"""The errors azimds raises when talking to IMDS, all under one base class, ``AzimdsError``.

Every message says what happened and what to do. No message ever carries a response body of
a successful request (it may hold customData, userData or tokens); error bodies contribute
only the service's ``error`` text. Whatever a message takes from the network (that text, a
``Location``, a reason phrase) is made printable first (``printable.py``).

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from .detect import not_on_azure_message
from .printable import printable

# What to check when nothing usable came back from the real IMDS address.
IMDS_ADVICE = (
    "Check that this VM can reach IMDS (no route or firewall blocking 169.254.169.254), or "
    "retry later with a longer deadline"
)


class AzimdsError(Exception):
    """Base class of every error azimds raises about IMDS; catch this to catch them all."""


class NotOnAzure(AzimdsError):
    """This machine is not an Azure VM (or azimds was told so); nothing was sent.

    The message is ``detect.not_on_azure_message``: what detection says, and what to do.

    Attributes:
        reason: why detection decided so, e.g. the chassis asset tag it read.
        disabled: True when ``AZIMDS_DISABLE`` decided.
    """

    def __init__(self, reason: str, *, disabled: bool = False) -> None:
        self.reason = reason
        self.disabled = disabled
        super().__init__(not_on_azure_message(reason, disabled))


class Attempt:
    """What one request attempt saw: a status code or a transport failure, and when.

    Attributes:
        number: 1 for the first attempt.
        outcome: a short description, e.g. "HTTP 503", "connection refused", "timed out".
        status: the HTTP status, or None when no response came back.
        elapsed: seconds since the call started when the attempt ended.
    """

    __slots__ = ("elapsed", "number", "outcome", "status")

    def __init__(self, number: int, outcome: str, status: Optional[int], elapsed: float) -> None:
        self.number = number
        self.outcome = outcome
        self.status = status
        self.elapsed = elapsed

    def __repr__(self) -> str:
        return (
            f"Attempt({self.number}, {self.outcome!r}, status={self.status}, "
            f"elapsed={self.elapsed:.2f})"
        )

    def __str__(self) -> str:
        return f"#{self.number} at {self.elapsed:.1f}s: {self.outcome}"


class Unavailable(AzimdsError):
    """IMDS did not answer usefully within the attempts and the deadline allowed.

    Attributes:
        url: what was asked (IMDS URLs carry no secrets).
        attempts: what each attempt saw, in order.
        why_stopped: why azimds gave up, e.g. "deadline of 30s reached".
    """

    def __init__(
        self, url: str, attempts: Sequence[Attempt], why_stopped: str, advice: str = IMDS_ADVICE
    ) -> None:
        self.url = url
        self.attempts: Tuple[Attempt, ...] = tuple(attempts)
        self.why_stopped = why_stopped
        seen = "; ".join(str(a) for a in self.attempts) or "no attempt was made"
        super().__init__(
            f"IMDS unavailable: {url} failed after {len(self.attempts)} attempt(s) "
            f"({why_stopped}). Attempts: {seen}. {advice}."
        )


class BadRequest(AzimdsError):
    """IMDS refused the request as malformed (a 4xx other than 404, 410 and 429).

    Attributes:
        status: the HTTP status (400, 403, 405, ...).
        service_error: the ``error`` text of the service's answer, if any.
    """

    def __init__(self, url: str, status: int, service_error: str, hint: str = "") -> None:
        self.url = url
        self.status = status
        self.service_error = printable(service_error)
        said = f": {self.service_error.rstrip('.')}" if service_error else ""
        advice = hint or "Check the path and the query; such an answer is not retried"
        super().__init__(f"IMDS rejected {url} with HTTP {status}{said}. {advice}.")


class NotFound(AzimdsError):
    """The element asked for does not exist (404, still 404 after the allowed retries)."""

    def __init__(self, url: str, attempts: int) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(
            f"IMDS has no element at {url} (HTTP 404 on {attempts} attempt(s)). Check the "
            "path (names are case-sensitive; array elements are numbered from 0), e.g. with "
            "`azimds get compute`."
        )


class NoSuchNode(NotFound):
    """The path names a node no instance document has; known from the api-version table,
    before any request (``attempts`` is 0).

    Attributes:
        path: the path asked for, as segments joined by "/".
        problem: which segment is wrong and what exists in its place.
    """

    def __init__(self, path: str, problem: str) -> None:
        AzimdsError.__init__(
            self,
            f"no element {path or '/'} in the IMDS instance document: {problem}. Nothing was "
            "sent; names are case-sensitive, array elements are numbered from 0.",
        )
        self.url = "/metadata/instance/" + path
        self.attempts = 0
        self.path = path
        self.problem = problem


class MalformedResponse(AzimdsError):
    """IMDS answered, but not with something azimds can use (not JSON, cut short, wrong shape).

    Attributes:
        problem: what was wrong, without any of the body's content.
    """

    def __init__(self, url: str, problem: str, advice: str = "") -> None:
        self.url = url
        self.problem = problem
        advice = advice or (
            "This is not expected of IMDS; retry, and if it persists, report it with the "
            "output of `azimds get`"
        )
        super().__init__(
            f"IMDS answered {url} with a response azimds cannot use: {printable(problem)}. "
            f"{advice}."
        )


class MalformedDocument(MalformedResponse, ValueError):
    """An instance document has a wrong type or value where IMDS would not send one.

    ``field`` is the path of the offending node (``compute.platformFaultDomain``,
    ``network.interface[0].macAddress``); ``problem`` says what was expected and what was
    found. The values of customData and userData never appear in the message.
    """

    url = "/metadata/instance"

    def __init__(self, field: str, problem: str) -> None:
        Exception.__init__(self, field, problem)
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        return f"malformed IMDS instance document: {self.field} {self.problem}"


class ResponseTooLarge(MalformedResponse):
    """The response body was larger than the allowed size; it was not read past the cap.

    Attributes:
        limit: the cap in bytes.
        announced: the Content-Length the server announced, or None if it sent more than it said.
    """

    def __init__(self, url: str, limit: int, announced: Optional[int] = None) -> None:
        self.limit = limit
        self.announced = announced
        size = f"announced {announced} bytes" if announced is not None else "kept coming"
        super().__init__(
            url,
            f"the body {size}, over the limit of {limit} bytes, and was refused",
            "Raise max_bytes if this VM really has that much metadata",
        )


class Redirected(AzimdsError):
    """IMDS (or something pretending to be it) answered with a redirect; it was not followed."""

    def __init__(self, url: str, status: int, location: str) -> None:
        self.url = url
        self.status = status
        self.location = location
        shown = printable(location, limit=200) if location else "(no Location)"
        super().__init__(
            f"{url} answered HTTP {status} redirecting to {shown}; "
            "azimds never follows redirects (IMDS does not send them). Check that the endpoint "
            "really is IMDS and that nothing on this machine intercepts 169.254.169.254."
        )


class VersionNotAvailable(AzimdsError):
    """The api-version asked for (or needed) is not offered by this IMDS, or lacks a field.

    Attributes:
        wanted: the version or field that was needed.
        offered: the newest versions the service named, newest first (may be empty).
    """

    def __init__(self, message: str, wanted: str, offered: Sequence[str] = ()) -> None:
        self.wanted = wanted
        self.offered: Tuple[str, ...] = tuple(offered)
        super().__init__(message)
