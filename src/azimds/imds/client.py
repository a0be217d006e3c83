"""The IMDS client: detection, one request per question, retries, api-version negotiation.

    from azimds.imds.client import Client
    document = Client().instance()        # the whole instance document, one request
    document.data["compute"]["zone"], document.api_version

Process-wide state, on purpose and only this:

* ``PROCESS_VERSIONS``: the api-version negotiated with each endpoint, so that a process asks
  only once which version an IMDS speaks.
* ``retry.PROCESS_PACERS``: spaces the requests of every client of an endpoint to stay under
  IMDS's 5 per second (IMDS counts them per VM, so each endpoint has its own pacer).

Both can be replaced per client (``versions_memo=``, ``pacer=``), e.g. in tests; so can the
function that sends a request (``send=``, default ``transport.get``).

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import binascii
import math
import os
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from . import body, transport, versions
from .detect import Detection, detect
from .endpoint import Endpoint
from .errors import (
    IMDS_ADVICE,
    Attempt,
    BadRequest,
    MalformedResponse,
    NoSuchNode,
    NotFound,
    NotOnAzure,
    Redirected,
    Unavailable,
    VersionNotAvailable,
)
from .paths import field_path, split_path
from .printable import printable
from .retry import (
    PROCESS_PACERS,
    Clock,
    Pacer,
    Random,
    RetryBudget,
    RetryPolicy,
    Sleep,
    default_random,
    parse_retry_after,
)
from .version import __version__

USER_AGENT = f"azimds/{__version__}"
INSTANCE_PATH = "/metadata/instance"
ATTESTED_PATH = "/metadata/attested/document"
DEFAULT_MAX_BYTES = 1024 * 1024
SERVICE_ERROR_LIMIT = 200  # characters of a service's error text kept for messages


class Document(NamedTuple):
    """The instance document as served: ``data`` is the raw JSON object of ``api_version``."""

    data: Dict[str, Any]
    api_version: str
    endpoint: str


class Node(NamedTuple):
    """One node of the instance document: parsed JSON, or a str for ``format="text"``."""

    value: Any
    api_version: str
    path: str
    endpoint: str


class VersionMemo:
    """The api-version negotiated with each endpoint (base URL). Thread-safe."""

    def __init__(self) -> None:
        self._versions: Dict[str, str] = {}
        self._lock = threading.Lock()

    def recall(self, endpoint: str) -> Optional[str]:
        """Return the version remembered for ``endpoint``, or None."""
        with self._lock:
            return self._versions.get(endpoint)

    def remember(self, endpoint: str, version: str) -> None:
        """Remember that ``endpoint`` serves ``version``."""
        with self._lock:
            self._versions[endpoint] = version

    def forget(self, endpoint: Optional[str] = None) -> None:
        """Forget ``endpoint`` (every endpoint when None)."""
        with self._lock:
            if endpoint is None:
                self._versions.clear()
            else:
                self._versions.pop(endpoint, None)


# The negotiated api-version per endpoint, shared by the clients of this process.
PROCESS_VERSIONS = VersionMemo()


class Client:
    """Talks to one IMDS. Detection happens here, at construction, without network traffic.

    Args:
        endpoint: an IMDS base URL (e.g. an emulator's); None means detect (see ``detect.py``).
        api_version: pin this api-version instead of negotiating one.
        needs: field paths the caller relies on, e.g. ``("compute.tagsList",)``; a version
            lacking one gives VersionNotAvailable instead of silently missing data.
        connect_timeout: seconds allowed to connect, per attempt.
        read_timeout: seconds allowed for each wait for data, per attempt.
        deadline: seconds allowed for a whole call, every retry and negotiation included. The
            default rides out an IMDS update (410 for up to 70 s).
        max_bytes: the largest response body accepted.
        policy: what is retried and how long to wait.
        environ: the environment read by detection (default ``os.environ``).
        clock, sleep, random: injectable time and jitter, for tests.
        pacer: request spacing (default: the endpoint's, in the process-wide
            ``PROCESS_PACERS``).
        versions_memo: negotiated versions (default: the process-wide ``PROCESS_VERSIONS``).
        trace: called with one line per request sent and per version fallback (what was
            asked, the status or failure, the time taken, the request id; never a body).
        progress: called with one line before each wait between attempts (what the last
            attempt saw, how long until the next), e.g. for a status line on a terminal.
        send: sends one request and returns the whole response (default ``transport.get``);
            tests of the client may answer without a socket.

    Network text in these lines and in every error is made printable (``printable.py``).

    Raises:
        ValueError: the endpoint or ``api_version`` is malformed, ``deadline`` or a timeout
            is not a positive, finite number of seconds, or ``AZIMDS_DISABLE`` is neither true
            nor false.
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        *,
        api_version: Optional[str] = None,
        needs: Iterable[str] = (),
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        deadline: float = 90.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        policy: Optional[RetryPolicy] = None,
        environ: Optional[Mapping[str, str]] = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        random: Random = default_random,
        pacer: Optional[Pacer] = None,
        versions_memo: Optional[VersionMemo] = None,
        trace: Optional[Callable[[str], None]] = None,
        progress: Optional[Callable[[str], None]] = None,
        send: transport.Send = transport.get,
    ) -> None:
        if api_version is not None and not versions.is_well_formed(api_version):
            raise ValueError(f"api-version {api_version!r} is not of the form YYYY-MM-DD")
        for name, seconds in (
            ("deadline", deadline),
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
        ):
            if not (seconds > 0 and math.isfinite(seconds)):
                raise ValueError(
                    f"{name} must be a positive, finite number of seconds, not {seconds!r}"
                )
        self.detection: Detection = detect(endpoint, environ)
        self.endpoint: Optional[Endpoint] = (
            transport.parse_endpoint(self.detection.endpoint) if self.detection.endpoint else None
        )
        self.pinned_version = api_version
        self.needs: Tuple[str, ...] = tuple(needs)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.sleep = sleep
        self.random = random
        if pacer is None:  # off Azure nothing is sent: any pacer will do
            pacer = PROCESS_PACERS.pacer(self.endpoint.base_url if self.endpoint else "")
        self.pacer = pacer
        self.memo = PROCESS_VERSIONS if versions_memo is None else versions_memo
        self.trace = trace
        self.progress = progress
        self.send = send

    @property
    def on_azure(self) -> bool:
        """Return True when detection says to talk to IMDS."""
        return self.detection.on_azure

    @property
    def negotiated_version(self) -> Optional[str]:
        """Return the pinned version, or the one negotiated so far with this endpoint, or None."""
        if self.pinned_version or self.endpoint is None:
            return self.pinned_version
        return self.memo.recall(self.endpoint.base_url)

    @property
    def request_version(self) -> str:
        """Return the api-version the next request asks for: the negotiated one (pinned, or
        remembered for this endpoint), else the newest azimds knows."""
        return self.negotiated_version or versions.NEWEST

    def instance(self) -> Document:
        """Return the whole instance document, fetched with one request (plus negotiation).

        Raises:
            NotOnAzure: detection says this is not an Azure VM; nothing was sent.
            VersionNotAvailable: no version offers what was pinned or needed.
            Unavailable, NotFound, BadRequest, Redirected, MalformedResponse: see errors.py.
        """
        call = self._call()
        response, version, url = call.versioned(INSTANCE_PATH, {}, self.needs)
        data = _json_body(response, url)
        if not isinstance(data, dict):
            raise MalformedResponse(url, f"expected a JSON object, got {_kind(data)}")
        return Document(data, version, call.endpoint.base_url)

    def get(self, path: str = "", *, format: str = "json") -> Node:
        """Return one node of the instance document, e.g. ``"compute/zone"``.

        Args:
            path: the node, as segments under /metadata/instance separated by "/" or "."
                (array elements by index: ``network/interface/0``); "" for the whole document.
            format: "json" (parsed) or "text" (a str; IMDS requires it for leaf values).

        Raises:
            ValueError: ``format`` is neither "json" nor "text".
            NoSuchNode: the api-version table says no instance document has that node;
                nothing was sent.
            NotOnAzure, VersionNotAvailable, Unavailable, NotFound, BadRequest, Redirected,
            MalformedResponse: see ``instance``.
        """
        if format not in ("json", "text"):
            raise ValueError(f"format must be 'json' or 'text', not {format!r}")
        call = self._call()
        self.check_path(path)
        segments = split_path(path)
        url_path = INSTANCE_PATH + "".join("/" + transport.percent_encode(s) for s in segments)
        needs = self.needs + ((field_path(segments),) if segments else ())
        response, version, url = call.versioned(url_path, {"format": format}, needs)
        value = _text_body(response, url) if format == "text" else _json_body(response, url)
        return Node(value, version, "/".join(segments), call.endpoint.base_url)

    def check_path(self, path: str) -> None:
        """Check ``path`` (as for ``get``) against the api-version table; send nothing.

        Raises:
            NoSuchNode: no instance document has that node: a name that is not there (names
                are case-sensitive), a child of a single value, or a name where an array
                wants an index. The message lists what exists there.
        """
        segments = split_path(path)
        problem = versions.node_problem(segments, self.request_version)
        if problem is not None:
            raise NoSuchNode("/".join(segments), problem)

    def attested_document(self, nonce: str) -> Tuple[Dict[str, Any], str]:
        """Return the JSON of ``/metadata/attested/document`` for ``nonce`` and its api-version.

        The api-version is negotiated (or pinned) as for ``instance``; retries as everywhere.

        Raises:
            NotOnAzure, VersionNotAvailable, Unavailable, NotFound, BadRequest, Redirected,
            MalformedResponse.
        """
        call = self._call()
        response, version, url = call.versioned(ATTESTED_PATH, {"nonce": nonce}, ())
        # A signed document must say one thing: a key given twice is refused, not collapsed.
        body = _json_body(response, url, unique_keys=True)
        if not isinstance(body, dict):
            raise MalformedResponse(url, "expected a JSON object")
        return body, version

    def versions(self) -> List[str]:
        """Return the api-versions this IMDS offers (``/metadata/versions``), oldest first.

        Raises:
            NotOnAzure, Unavailable, NotFound, BadRequest, Redirected, MalformedResponse.
        """
        return self._call().offered_versions()

    def note(self, line: str) -> None:
        """Pass ``line`` to the trace function, if there is one."""
        if self.trace is not None:
            self.trace(line)

    def unavailable_advice(self) -> str:
        """Return what to check when nothing usable came back from this client's endpoint."""
        if self.endpoint is None or self.detection.source == "dmi":
            return IMDS_ADVICE
        base = self.endpoint.base_url
        if self.endpoint.is_loopback:
            return (
                f"Nothing usable answered at {base} ({self.detection.reason}): is the "
                "emulator running? Start it with `azimds emulator serve`"
            )
        return (
            f"Check that {base} ({self.detection.reason}) is an IMDS this machine can reach, "
            "or retry later with a longer deadline"
        )

    def _call(self) -> _Call:
        """Return a new call with its own deadline.

        Raises:
            NotOnAzure: detection said not to talk to IMDS.
        """
        if self.endpoint is None:
            raise NotOnAzure(self.detection.reason, disabled=self.detection.source == "disabled")
        return _Call(self, self.endpoint, self.clock() + self.deadline)


def fetch_instance(endpoint: Optional[str] = None, **options: Any) -> Document:
    """Return the instance document; shorthand for ``Client(endpoint, **options).instance()``."""
    return Client(endpoint, **options).instance()


class _Call:
    """One public call: its deadline, its attempts and its api-version negotiation."""

    def __init__(self, client: Client, endpoint: Endpoint, deadline_at: float) -> None:
        self.client = client
        self.endpoint = endpoint
        self.deadline_at = deadline_at
        self.started = client.clock()

    def versioned(
        self, path: str, query: Mapping[str, str], needs: Iterable[str]
    ) -> Tuple[transport.Response, str, str]:
        """Return (final response, api-version used, full URL) for ``path``, negotiating.

        The version asked for is the pinned one, else the one remembered for the endpoint,
        else the newest azimds knows; a 400 naming ``newest-versions`` moves it to the newest
        version both sides know, asking ``/metadata/versions`` when the hint has none.
        """
        client = self.client
        base = self.endpoint.base_url
        pinned = client.pinned_version
        version = client.request_version
        needs = tuple(needs)
        self._check_needs(version, needs, negotiated=pinned is None)
        tried: List[str] = []
        while True:
            target = path + "?" + transport.query_string({"api-version": version, **query})
            response = self.request(target)
            hint = _newest_versions(response) if response.status == 400 else None
            if hint is None:
                if response.status == 200 and not pinned:
                    client.memo.remember(base, version)
                return response, version, base + target
            tried.append(version)
            if pinned:
                raise VersionNotAvailable(
                    f"the IMDS at {base} does not offer the pinned api-version {pinned} "
                    f"(its newest: {', '.join(hint) or 'not said'}). Pin one it offers (see "
                    "`azimds versions`) or do not pin, to let azimds negotiate.",
                    pinned,
                    hint,
                )
            fallback = versions.newest_common(hint)
            if fallback is None or fallback in tried:
                try:
                    offered = self.offered_versions()
                except NotFound:
                    offered = []
                fallback = versions.newest_common(offered)
                if fallback is None or fallback in tried:
                    raise VersionNotAvailable(
                        f"the IMDS at {base} offers no api-version azimds knows "
                        f"(offered: {_span(offered)}; azimds knows {versions.OLDEST} to "
                        f"{versions.NEWEST}). Upgrade azimds.",
                        version,
                        hint,
                    )
            client.note(f"IMDS at {base} refused api-version {version}; using {fallback}")
            client.memo.remember(base, fallback)
            version = fallback
            self._check_needs(version, needs, negotiated=True)

    def offered_versions(self) -> List[str]:
        """Return the versions listed by ``/metadata/versions``, oldest first."""
        target = "/metadata/versions"
        response = self.request(target)
        url = self.endpoint.base_url + target
        data = _json_body(response, url)
        listed = data.get("apiVersions") if isinstance(data, dict) else None
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise MalformedResponse(url, 'expected {"apiVersions": [...strings...]}')
        return sorted(listed)

    def request(self, target: str) -> transport.Response:
        """Return the final response to a GET of ``target``, retrying what may be retried.

        Returns a 200, a 400 or any other status that is not retried (3xx included).

        Raises:
            NotFound: every allowed attempt was answered 404.
            Unavailable: attempts or deadline exhausted.
        """
        client = self.client
        url = self.endpoint.base_url + target
        budget = RetryBudget(client.policy, self.deadline_at, client.random)
        attempts: List[Attempt] = []
        while True:
            remaining = self.deadline_at - client.clock()
            if remaining <= 0:
                raise self.unavailable(url, attempts, f"deadline of {client.deadline:g}s reached")
            if not client.pacer.acquire(remaining):
                raise self.unavailable(
                    url, attempts, "pacing to 5 requests/s would pass the deadline"
                )
            request_id = new_request_id()
            headers = {
                "Metadata": "true",
                "x-ms-client-request-id": request_id,
                "User-Agent": USER_AGENT,
            }
            retry_after: Optional[float] = None
            sent_at = client.clock()
            try:
                response = client.send(
                    self.endpoint,
                    target,
                    headers,
                    connect_timeout=client.connect_timeout,
                    read_timeout=client.read_timeout,
                    deadline_at=self.deadline_at,
                    clock=client.clock,
                    max_bytes=client.max_bytes,
                )
            except transport.TransportError as exc:
                status: Optional[int] = None
                outcome = printable(exc.outcome)
            else:
                status = response.status
                outcome = f"HTTP {status}"
                if status != 200:
                    outcome += _service_error_suffix(response)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
            now = client.clock()
            if client.trace is not None:
                client.trace(
                    f"GET {target} -> {outcome} in {(now - sent_at) * 1000:.0f} ms "
                    f"(x-ms-client-request-id {request_id})"
                )
            if status is not None and not client.policy.is_retried(status):
                return response
            attempts.append(Attempt(len(attempts) + 1, outcome, status, now - self.started))
            wait = budget.next_wait(status, now, retry_after)
            if wait is None:
                if status == 404:
                    raise NotFound(url, len(attempts))
                raise self.unavailable(url, attempts, budget.why_stopped)
            if client.progress is not None:
                client.progress(
                    f"attempt {len(attempts) + 1} in {wait:.1f}s "
                    f"({self.endpoint.base_url}: {outcome})"
                )
            client.sleep(wait)

    def unavailable(self, url: str, attempts: List[Attempt], why_stopped: str) -> Unavailable:
        """Return the error for a call that got nothing usable from IMDS."""
        return Unavailable(url, attempts, why_stopped, self.client.unavailable_advice())

    def _check_needs(self, version: str, needs: Tuple[str, ...], negotiated: bool) -> None:
        missing = [need for need in needs if not versions.offers(version, need)]
        if not missing:
            return
        need = missing[0]
        since = versions.field_introduced(need)
        if negotiated:
            message = (
                f"{need} needs api-version {since} or newer, but the IMDS at "
                f"{self.endpoint.base_url} offers at most {version}. Do without {need} "
                "(drop it from needs), or run where IMDS offers a newer version."
            )
        else:
            message = (
                f"{need} needs api-version {since} or newer, but {version} is pinned. Pin "
                f"{since} or newer, or do not pin."
            )
        raise VersionNotAvailable(message, need, (version,))


def new_request_id() -> str:
    """Return a fresh random (version 4) UUID string for ``x-ms-client-request-id``.

    Made from ``os.urandom`` as ``uuid.uuid4`` makes it; the uuid module itself would import
    ``platform`` into every command for a MAC address lookup this does not need.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = binascii.hexlify(bytes(raw)).decode("ascii")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _newest_versions(response: transport.Response) -> Optional[List[str]]:
    """Return the ``newest-versions`` of a 400 answer about the api-version, else None."""
    try:
        data = body.loads(response.body.decode("utf-8"))
    except ValueError:
        return None
    hint = data.get("newest-versions") if isinstance(data, dict) else None
    if not isinstance(hint, list):
        return None
    return [v for v in hint if isinstance(v, str)]


def _final_status_error(response: transport.Response, url: str) -> Exception:
    status = response.status
    if 300 <= status <= 399:
        return Redirected(url, status, response.headers.get("location", ""))
    if 400 <= status <= 499:
        hint = ""
        if status == 400 and "format=json" in url:
            hint = "If the path names a single value (a leaf), ask with format text"
        return BadRequest(url, status, _service_error(response), hint)
    return MalformedResponse(url, f"unexpected HTTP {status} {response.reason}".rstrip())


def _json_body(response: transport.Response, url: str, unique_keys: bool = False) -> Any:
    text = _text_body(response, url)
    try:
        return body.loads(text, unique_keys=unique_keys)
    except ValueError as exc:
        # The message says where or what kind of thing was wrong, never the content.
        raise MalformedResponse(url, f"the body is not valid JSON ({exc})") from None


def _text_body(response: transport.Response, url: str) -> str:
    if response.status != 200:
        raise _final_status_error(response, url)
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResponse(url, "the body is not UTF-8 text") from None


def _service_error(response: transport.Response) -> str:
    """Return the ``error`` text of an error body (nothing else of it), printable and short."""
    try:
        data = body.loads(response.body.decode("utf-8"))
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return printable(error, limit=SERVICE_ERROR_LIMIT) if isinstance(error, str) else ""


def _service_error_suffix(response: transport.Response) -> str:
    error = _service_error(response)
    return f" ({error})" if error else ""


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


def _span(offered: List[str]) -> str:
    if not offered:
        return "none"
    return offered[0] if len(offered) == 1 else f"{offered[0]} to {offered[-1]}"
