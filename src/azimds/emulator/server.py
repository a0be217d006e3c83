"""The emulator: one process serving one VM or a fleet, each VM at its own base URL.

``Emulator`` runs an asyncio event loop in a background thread (library mode) or in the
foreground (``serve_forever``). Each VM has its routes, its rate limiter, its scripted faults,
its request journal and a small control API under ``/azimds/`` (outside ``/metadata``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import functools
import ipaddress
import json
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Union,
)

if TYPE_CHECKING:
    from .attested import AttestationCA

from .faults import Fault, FaultBook, FaultError, fault_from_mapping, validate_fault
from .http import IMDSProtocol
from .profile import RateLimit, VMProfile, default_profile
from .routes import JSON_TYPE, Request, Response, VMRoutes, error, json_response

Clock = Callable[[], float]
JOURNAL_SIZE = 10_000


class BindRefused(ValueError):
    """The emulator was asked to listen on an address that is not loopback."""


@dataclass(frozen=True)
class RequestRecord:
    """One request a VM received, as tests and the control API see it."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    status: int  # 0 when the connection was reset instead of answered
    at: float


@dataclass
class Outcome:
    """A VM's answer to a request, and the fault (if any) the transport must carry out."""

    response: Response
    fault: Optional[Fault] = None


class RateLimiter:
    """Counts requests in a sliding window; IMDS answers 429 above 5 per second per VM."""

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


class CertificateAuthority:
    """The emulator's test CA for attested documents, made on first use and shared by its VMs.

    Making one costs a few hundred milliseconds of RSA key generation, which an emulator that
    never signs should not pay. Nothing trusts it by default: fetch its root from
    ``/azimds/attested/root.pem`` (or ``Emulator.attestation_root_pem()``) to trust it.
    """

    def __init__(self) -> None:
        self._ca: Optional[AttestationCA] = None
        self._lock = threading.Lock()

    def get(self) -> AttestationCA:
        """Return the CA, creating it on first use."""
        with self._lock:
            if self._ca is None:
                from .attested import AttestationCA

                self._ca = AttestationCA()
            return self._ca

    def serve(self, path: str) -> Response:
        """Answer a control-API request for the CA's root or intermediate certificate."""
        from . import attested

        ca = self.get()
        files = {
            attested.ROOT_PEM_PATH: (ca.root_pem, "application/x-pem-file"),
            attested.INTERMEDIATE_PEM_PATH: (ca.intermediate_pem, "application/x-pem-file"),
            attested.INTERMEDIATE_DER_PATH: (ca.intermediate_der, "application/pkix-cert"),
        }
        if path not in files:
            return error(404, f"Not found. Certificates: {', '.join(sorted(files))}")
        produce, content_type = files[path]
        return Response(200, produce(), content_type)


class VM:
    """One emulated VM: routes, rate limit, faults, journal and control API."""

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
        self.connections: Set[IMDSProtocol] = set()
        self.base_url = ""
        self._clock = clock

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

    @property
    def requests(self) -> List[RequestRecord]:
        """Return the requests received so far (the newest 10,000), oldest first."""
        return list(self.journal)

    def respond(self, request: Request) -> Outcome:
        """Return this VM's answer to ``request``, applying faults and the rate limit."""
        if request.path == "/azimds" or request.path.startswith("/azimds/"):
            return Outcome(self._control(request))
        fault = self.faults.take(request.path, self._clock())
        outcome = self._faulted(request, fault) if fault else None
        if outcome is None:
            if self.limiter.allow():
                outcome = Outcome(self.routes.handle(request), fault)
            else:
                limit = self.limiter.limit
                message = (
                    f"Too many requests. IMDS allows {limit.requests} requests "
                    f"per {limit.per_seconds:g} s per VM"
                )
                outcome = Outcome(error(429, message))
        status = 0 if fault is not None and fault.kind == "reset" else outcome.response.status
        self.journal.append(
            RequestRecord(
                request.method, request.path, request.query, request.headers, status, self._clock()
            )
        )
        return outcome

    def _faulted(self, request: Request, fault: Fault) -> Optional[Outcome]:
        """Return the outcome a fault dictates, or None when the normal answer goes out."""
        if fault.kind == "status":
            response = error(fault.status, _FAULT_MESSAGES.get(fault.status, _FAULT_DEFAULT))
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

    def _control(self, request: Request) -> Response:
        """Answer the control API: /azimds/vm, /azimds/faults, /azimds/requests."""
        path, method = request.path.rstrip("/"), request.method
        if path == "/azimds/vm" and method == "GET":
            return json_response(
                200,
                {
                    **self.profile.summary(),
                    "base_url": self.base_url,
                    "profile": self.profile.source,
                },
            )
        if path.startswith("/azimds/attested/") and method == "GET":
            return self.authority.serve(path)
        if path == "/azimds/faults":
            if method == "GET":
                return json_response(200, {"faults": self.faults.listing(self._clock())})
            if method == "DELETE":
                self.clear_faults()
                return json_response(200, {"faults": []})
            if method == "POST":
                return self._post_faults(request)
        if path == "/azimds/requests" and method == "GET":
            records = list(self.journal)[-500:]
            return json_response(
                200,
                {
                    "requests": [
                        {"method": r.method, "path": r.path, "status": r.status, "at": r.at}
                        for r in records
                    ]
                },
            )
        if path in ("/azimds/vm", "/azimds/faults", "/azimds/requests"):
            return error(405, f"Method not allowed. See 'azimds emulator serve --help' for {path}")
        return error(
            404, "Not found. Control API paths: /azimds/vm, /azimds/faults, /azimds/requests"
        )

    def _post_faults(self, request: Request) -> Response:
        try:
            payload = json.loads(request.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[...
            return error(400, "Bad request. Send a JSON fault object or a list of them")
        specs = payload if isinstance(payload, list) else [payload]
        try:
            faults = [fault_from_mapping(spec) for spec in specs]
        except FaultError as exc:
            return error(400, f"Bad request. {exc}")
        for fault in faults:
            self.faults.add(fault)
        return json_response(201, {"faults": self.faults.listing(self._clock())})


_FAULT_MESSAGES = {
    404: "Not found. The requested element does not exist yet; retry",
    410: "Gone. IMDS is being updated; retry, it is back within 70 seconds",
    429: "Too many requests. Slow down and retry",
    500: "Internal server error. Retry after some time",
    503: "Service unavailable. Retry after some time",
}


_FAULT_DEFAULT = "Scripted failure. Retry after some time"


def check_bind_address(host: str, allow_any_address: bool) -> None:
    """Refuse to listen anywhere but loopback unless explicitly allowed.

    Raises:
        BindRefused: ``host`` is not a loopback address and ``allow_any_address`` is False.
    """
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise BindRefused(f"bind address {host!r} is not an IP address; use 127.0.0.1") from None
    if address.is_unspecified:
        raise BindRefused(
            f"refusing to listen on {host}: that is every interface of this machine, and the "
            "emulator's control API has no authentication; use 127.0.0.1"
        )
    if not address.is_loopback and not allow_any_address:
        raise BindRefused(
            f"refusing to listen on {host}: the emulator serves loopback only. The one legitimate "
            "other address is 169.254.169.254 inside a private network namespace "
            "(unshare -rn); pass allow_any_address / --allow-address for that"
        )


class Emulator:
    """Serve IMDS for one VM or a fleet; a context manager in library mode.

    ``addressing`` picks how VMs of a fleet are told apart: ``"ports"`` (each VM on its own
    port of ``host``; consecutive from ``port`` or free ports when ``port`` is 0) or
    ``"addresses"`` (each VM on its own loopback address from ``host`` upward, all on ``port``).
    """

    def __init__(
        self,
        profiles: Union[VMProfile, Sequence[VMProfile], None] = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        addressing: str = "ports",
        allow_any_address: bool = False,
        clock: Clock = time.monotonic,
        rate_limit: Optional[bool] = None,
    ) -> None:
        if profiles is None:
            profiles = [default_profile()]
        elif isinstance(profiles, VMProfile):
            profiles = [profiles]
        if not profiles:
            raise ValueError("an emulator needs at least one VM profile")
        if addressing not in ("ports", "addresses"):
            raise ValueError("addressing must be 'ports' or 'addresses'")
        check_bind_address(host, allow_any_address)
        self.authority = CertificateAuthority()
        self.vms = [VM(p, clock, rate_limit, self.authority) for p in profiles]
        self._binds = _plan_binds(host, port, addressing, len(self.vms), allow_any_address)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._servers: List[asyncio.base_events.Server] = []

    # -- one-VM conveniences ------------------------------------------------------------

    @property
    def vm(self) -> VM:
        """Return the first (for a one-VM emulator, the only) VM."""
        return self.vms[0]

    @property
    def base_url(self) -> str:
        """Return the first VM's base URL, e.g. ``http://127.0.0.1:41234``."""
        return self.vm.base_url

    @property
    def requests(self) -> List[RequestRecord]:
        """Return the requests the first VM received."""
        return self.vm.requests

    def add_fault(self, spec: Union[Mapping[str, Any], Fault]) -> Fault:
        """Script a fault on the first VM; see ``VM.add_fault``."""
        return self.vm.add_fault(spec)

    def clear_faults(self) -> None:
        """Forget the first VM's scripted faults."""
        self.vm.clear_faults()

    def attestation_root_pem(self) -> bytes:
        """Return the root certificate (PEM) of this emulator's attestation test CA."""
        return self.authority.get().root_pem()

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving in a background thread; return self once every VM listens.

        Raises:
            OSError: an address or port could not be bound.
        """
        _raise_file_limit(len(self.vms) * 2 + 256)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="azimds-emulator", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._bind_all(), loop)
        try:
            future.result(timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def manifest(self) -> List[Dict[str, str]]:
        """Return one entry per VM: its identifying facts and its base URL."""
        return [{**vm.profile.summary(), "base_url": vm.base_url} for vm in self.vms]

    def write_manifest(self, path: Union[str, Path]) -> None:
        """Write the manifest as JSON (``{"vms": [...]}``) to ``path``."""
        Path(path).write_text(json.dumps({"vms": self.manifest()}, indent=1) + "\n", "utf-8")

    async def _bind_all(self) -> None:
        loop = asyncio.get_running_loop()
        for vm, (host, port) in zip(self.vms, self._binds):
            server = await loop.create_server(
                functools.partial(IMDSProtocol, vm), host, port, reuse_address=True, backlog=512
            )
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            vm.base_url = f"http://{shown}" + ("" if bound[1] == 80 else f":{bound[1]}")

    async def _close_all(self) -> None:
        for server in self._servers:
            server.close()
        for vm in self.vms:
            for connection in list(vm.connections):
                if connection.transport is not None:
                    connection.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


def _plan_binds(
    host: str, port: int, addressing: str, count: int, allow_any_address: bool
) -> List[tuple[str, int]]:
    """Return the (host, port) each VM listens on."""
    if addressing == "ports":
        if port and port + count - 1 > 65535:
            raise ValueError(f"{count} VMs from port {port} run past port 65535")
        return [(host, port + i if port else 0) for i in range(count)]
    first = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    addresses = [first + i for i in range(count)]
    for address in addresses:
        check_bind_address(str(address), allow_any_address)
    return [(str(address), port) for address in addresses]


def _raise_file_limit(needed: int) -> None:
    """Raise the soft open-file limit towards ``needed`` (a fleet holds a socket per VM)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
