"""What a verifier trusts: root certificates, known intermediates, and whether it may fetch.

The bundled roots are the public roots Azure's metadata certificates chain to: DigiCert Global
Root G2, DigiCert Global Root CA and Microsoft TLS RSA Root G2 (from 2026). Baltimore CyberTrust
Root expired in May 2025 and is not bundled. The bundled intermediates are known Microsoft
issuing CAs; they are untrusted helpers for chain building, never anchors. Nothing trusts the
azimds emulator's test CA unless told to with :meth:`TrustStore.with_roots`.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.verification import Store

from .aia import AiaFetcher


class TrustStoreError(ValueError):
    """A certificate file could not be read or holds no certificate."""


class TrustStore:
    """Trusted roots, untrusted known intermediates, and an optional AIA fetcher.

    A store without a fetcher is offline: it never makes a network request.
    """

    def __init__(
        self,
        roots: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        *,
        aia: Optional[AiaFetcher] = None,
    ) -> None:
        self.roots: Tuple[x509.Certificate, ...] = _unique(roots)
        if not self.roots:
            raise TrustStoreError("a trust store needs at least one root certificate")
        self.intermediates: Tuple[x509.Certificate, ...] = _unique(intermediates)
        self.aia = aia
        self.store = Store(list(self.roots))

    @classmethod
    def default(cls, *, offline: bool = False, aia: Optional[AiaFetcher] = None) -> TrustStore:
        """Return the bundled roots and intermediates, fetching via ``aia`` (or the default
        allowlisted fetcher) unless ``offline``."""
        fetcher = None if offline else (aia if aia is not None else AiaFetcher())
        return cls(bundled_roots(), bundled_intermediates(), aia=fetcher)

    @property
    def offline(self) -> bool:
        """Return True when this store never fetches anything."""
        return self.aia is None

    def with_roots(self, *roots: x509.Certificate) -> TrustStore:
        """Return a copy that also trusts ``roots`` (e.g. the emulator's test root)."""
        return TrustStore(self.roots + roots, self.intermediates, aia=self.aia)

    def with_intermediates(self, *intermediates: x509.Certificate) -> TrustStore:
        """Return a copy that also knows the (untrusted) ``intermediates``."""
        return TrustStore(self.roots, self.intermediates + intermediates, aia=self.aia)

    def with_aia(self, aia: Optional[AiaFetcher]) -> TrustStore:
        """Return a copy fetching with ``aia``; None makes it offline."""
        return TrustStore(self.roots, self.intermediates, aia=aia)


def load_pem_certificates(source: Union[str, Path, bytes]) -> Tuple[x509.Certificate, ...]:
    """Return the certificates in a PEM file (path) or PEM bytes.

    Raises:
        TrustStoreError: the file cannot be read or holds no PEM certificate.
    """
    name = "<bytes>"
    if isinstance(source, (str, Path)):
        name = str(source)
        try:
            source = Path(source).read_bytes()
        except OSError as exc:
            raise TrustStoreError(f"cannot read certificate file {name}: {exc.strerror}") from None
    try:
        return tuple(x509.load_pem_x509_certificates(source))
    except ValueError:
        raise TrustStoreError(
            f"{name} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)"
        ) from None


@functools.lru_cache(maxsize=None)
def bundled_roots() -> Tuple[x509.Certificate, ...]:
    """Return the bundled trusted roots (files ``roots/root-*.pem``)."""
    return _bundled("root-")


@functools.lru_cache(maxsize=None)
def bundled_intermediates() -> Tuple[x509.Certificate, ...]:
    """Return the bundled known intermediates (files ``roots/intermediate-*.pem``)."""
    return _bundled("intermediate-")


def _bundled(prefix: str) -> Tuple[x509.Certificate, ...]:
    folder = resources.files("azimds.attest").joinpath("roots")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(prefix) and entry.name.endswith(".pem"):
            found.extend(x509.load_pem_x509_certificates(entry.read_bytes()))
    return tuple(found)


def _unique(certificates: Iterable[x509.Certificate]) -> Tuple[x509.Certificate, ...]:
    seen = set()
    kept = []
    for certificate in certificates:
        key = certificate.fingerprint(hashes.SHA256())
        if key not in seen:
            seen.add(key)
            kept.append(certificate)
    return tuple(kept)
