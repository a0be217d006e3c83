"""Attested documents of Azure IMDS: fetch one with a fresh nonce, verify it completely.

>>> from azimds.attest import fetch, verify, TrustStore
>>> fetched = fetch("http://127.0.0.1:8080")                       # doctest: +SKIP
>>> result = verify(fetched.response, nonce=fetched.nonce)         # doctest: +SKIP
>>> result.vm_id, result.cloud                                     # doctest: +SKIP

Verification needs ``cryptography`` and ``asn1crypto``; see docs/attestation.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names
    from .aia import DEFAULT_AIA_HOSTS, AiaFetcher
    from .chain import verify_chain
    from .errors import (
        AttestError,
        CertificateExpiredError,
        CmsStructureError,
        ContentError,
        DocumentExpiredError,
        DocumentNotYetValidError,
        EncodingError,
        FetchError,
        KeyUsageError,
        NonceMismatchError,
        SanMismatchError,
        SignatureError,
        SignerCertificateError,
        SignerCountError,
        SubscriptionMismatchError,
        UntrustedChainError,
        VmIdMismatchError,
        WeakAlgorithmError,
        WeakKeyError,
    )
    from .fetcher import FetchedDocument, fetch
    from .result import VerifiedDocument
    from .spec import (
        CLOUD_DOMAINS,
        NonceError,
        UnknownCloudError,
        check_nonce,
        metadata_domain,
        new_nonce,
    )
    from .trust import TrustStore, TrustStoreError, load_pem_certificates
    from .verifier import verify

# Names are imported on first use: `azimds get` must not pay for cryptography at start-up.
_EXPORTS = {
    "DEFAULT_AIA_HOSTS": "aia",
    "AiaFetcher": "aia",
    "verify_chain": "chain",
    "CLOUD_DOMAINS": "spec",
    "UnknownCloudError": "spec",
    "metadata_domain": "spec",
    "AttestError": "errors",
    "CertificateExpiredError": "errors",
    "CmsStructureError": "errors",
    "ContentError": "errors",
    "DocumentExpiredError": "errors",
    "DocumentNotYetValidError": "errors",
    "EncodingError": "errors",
    "FetchError": "errors",
    "KeyUsageError": "errors",
    "NonceMismatchError": "errors",
    "SanMismatchError": "errors",
    "SignatureError": "errors",
    "SignerCertificateError": "errors",
    "SignerCountError": "errors",
    "SubscriptionMismatchError": "errors",
    "UntrustedChainError": "errors",
    "VmIdMismatchError": "errors",
    "WeakAlgorithmError": "errors",
    "WeakKeyError": "errors",
    "FetchedDocument": "fetcher",
    "fetch": "fetcher",
    "NonceError": "spec",
    "check_nonce": "spec",
    "new_nonce": "spec",
    "VerifiedDocument": "result",
    "TrustStore": "trust",
    "TrustStoreError": "trust",
    "load_pem_certificates": "trust",
    "verify": "verifier",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'azimds.attest' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


__all__ = [
    "CLOUD_DOMAINS",
    "DEFAULT_AIA_HOSTS",
    "AiaFetcher",
    "AttestError",
    "CertificateExpiredError",
    "CmsStructureError",
    "ContentError",
    "DocumentExpiredError",
    "DocumentNotYetValidError",
    "EncodingError",
    "FetchError",
    "FetchedDocument",
    "KeyUsageError",
    "NonceError",
    "NonceMismatchError",
    "SanMismatchError",
    "SignatureError",
    "SignerCertificateError",
    "SignerCountError",
    "SubscriptionMismatchError",
    "TrustStore",
    "TrustStoreError",
    "UnknownCloudError",
    "UntrustedChainError",
    "VerifiedDocument",
    "VmIdMismatchError",
    "WeakAlgorithmError",
    "WeakKeyError",
    "check_nonce",
    "fetch",
    "load_pem_certificates",
    "metadata_domain",
    "new_nonce",
    "verify",
    "verify_chain",
]
