"""Fetching a missing issuer certificate from a certificate's AIA "CA Issuers" URL.

Only plain-http URLs on an allowlist of Microsoft and DigiCert hosts (plus the hosts a caller
adds, such as the emulator's address) are fetched, with a timeout, a size cap, no proxies, no
redirects, and a cache (failures are remembered for a while, so a dead URL does not slow every
verification down). A fetched certificate is never trusted by itself: it only helps build a
chain that must still end at a trusted root.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import threading
import time
import urllib.parse
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID

from . import _http

# Host patterns (fnmatch, lower case). A pattern without a port matches only the default port;
# an IPv6 address is written in brackets ("[::1]:8169") and matched exactly.
DEFAULT_AIA_HOSTS: Tuple[str, ...] = (
    "www.microsoft.com",
    "caissuers.microsoft.com",
    "crl*.microsoft.com",
    "cacerts.digicert.com",
)
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_FAILURE_TTL = 300.0

_HOSTNAME = re.compile(r"[a-z0-9.-]+")


class AiaError(Exception):
    """An issuer certificate could not be fetched; the message says from where and why.

    ``url`` is the URL that failed, None when the certificate names none.
    """

    def __init__(self, message: str, url: Optional[str] = None) -> None:
        super().__init__(message)
        self.url = url


class AiaNotAllowed(AiaError):
    """The URL's host is not on the allowlist; ``host`` is the entry that would allow it."""

    def __init__(self, message: str, url: str, host: str) -> None:
        super().__init__(message, url)
        self.host = host


def allowlist_entry(url: str) -> str:
    """Return the allowlist entry for the host and port of ``url``, e.g. "127.0.0.1:8169"
    (the host alone for port 80), or "" when ``url`` names no usable host.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if not _usable_host(host):
        return ""
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (None, 80) else f"{shown}:{port}"


class AiaFetcher:
    """Fetches issuer certificates from allowlisted AIA URLs, caching what it fetched."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = DEFAULT_AIA_HOSTS,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        failure_ttl: float = DEFAULT_FAILURE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed_hosts: Tuple[str, ...] = tuple(h.lower() for h in allowed_hosts)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.failure_ttl = failure_ttl
        self._clock = clock
        self._cache: Dict[str, Tuple[x509.Certificate, ...]] = {}
        self._failures: Dict[str, Tuple[float, str]] = {}
        self._lock = threading.Lock()
        self.requests = 0  # how many HTTP requests were made (for tests and diagnostics)

    def with_hosts(self, *hosts: str) -> AiaFetcher:
        """Return a new fetcher (empty cache) that also allows ``hosts`` (e.g. "127.0.0.1:8080")."""
        return AiaFetcher(
            self.allowed_hosts + hosts,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            failure_ttl=self.failure_ttl,
            clock=self._clock,
        )

    def allows(self, url: str) -> bool:
        """Return True when ``url`` is plain http to an allowlisted host (and port)."""
        if not url.lower().startswith("http://"):
            return False
        target = allowlist_entry(url)
        return bool(target) and any(_matches(target, p) for p in self.allowed_hosts)

    def issuer_of(
        self, certificate: x509.Certificate
    ) -> Tuple[Optional[x509.Certificate], List[AiaError]]:
        """Return ``(issuer, [])`` fetched via ``certificate``'s CA Issuers URLs, or
        ``(None, problems)`` when none of them gave a certificate named as its issuer."""
        urls = ca_issuers_urls(certificate)
        if not urls:
            return None, [AiaError("it has no AIA CA Issuers URL")]
        problems: List[AiaError] = []
        for url in urls:
            try:
                candidates = self.fetch(url)
            except AiaError as exc:
                problems.append(exc)
                continue
            for candidate in candidates:
                if candidate.subject == certificate.issuer:
                    return candidate, []
            problems.append(AiaError(f"{url} did not hold a certificate for the issuer", url))
        return None, problems

    def fetch(self, url: str) -> Tuple[x509.Certificate, ...]:
        """Return the certificate(s) served at ``url`` (DER, PEM or PKCS#7), cached.

        Raises:
            AiaNotAllowed: ``url`` is not plain http to an allowlisted host.
            AiaError: the request failed, the status was not 200, the body was too large, or
                it held no certificate.
        """
        if not self.allows(url):
            raise AiaNotAllowed(
                f"{url} is not an allowed AIA URL (http to {', '.join(self.allowed_hosts)})",
                url,
                allowlist_entry(url) if url.lower().startswith("http://") else "",
            )
        with self._lock:
            if url in self._cache:
                return self._cache[url]
            failure = self._failures.get(url)
            if failure is not None and failure[0] > self._clock():
                raise AiaError(failure[1], url)
        try:
            certificates = self._download(url)
        except AiaError as exc:
            with self._lock:
                self._failures[url] = (self._clock() + self.failure_ttl, str(exc))
            raise
        with self._lock:
            self._cache[url] = certificates
            self._failures.pop(url, None)
        return certificates

    def _download(self, url: str) -> Tuple[x509.Certificate, ...]:
        with self._lock:
            self.requests += 1
        try:
            reply = _http.get(url, headers={}, timeout=self.timeout, max_bytes=self.max_bytes)
        except _http.HTTPGetError as exc:
            raise AiaError(str(exc), url) from None
        if reply.status != 200:
            raise AiaError(f"GET {url} answered {reply.status}", url)
        certificates = load_certificates(reply.body)
        if not certificates:
            raise AiaError(f"GET {url} did not return a certificate", url)
        return certificates


def _usable_host(host: str) -> bool:
    if ":" in host:
        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    return bool(_HOSTNAME.fullmatch(host))


def _matches(target: str, pattern: str) -> bool:
    if pattern.startswith("["):  # an IPv6 address: brackets would be a character class
        return target == pattern
    return fnmatch.fnmatchcase(target, pattern)


def ca_issuers_urls(certificate: x509.Certificate) -> List[str]:
    """Return the CA Issuers URLs of ``certificate``'s AIA extension (possibly none)."""
    try:
        aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        str(d.access_location.value)
        for d in aia.value
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def load_certificates(data: bytes) -> Tuple[x509.Certificate, ...]:
    """Return the certificates in ``data`` (a DER or PEM certificate, PEM bundle or PKCS#7),
    or an empty tuple when it holds none."""
    loaders: List[Callable[[bytes], List[x509.Certificate]]] = [
        lambda d: [x509.load_der_x509_certificate(d)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    ]
    for loader in loaders:
        try:
            return tuple(loader(data))
        except ValueError:
            continue
    return ()
