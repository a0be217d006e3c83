"""Verifying an attested document, step by step; the first failing step raises its error.

1. encoding and base64            7. chain to a trusted root, at the given time
2. CMS structure                  8. signer's DNS name in the expected cloud's metadata domain
3. exactly one signer             9. JSON parsed from the signed content only
4. signer certificate by issuer   10. nonce, compared in constant time
   and serial number              11. not expired, not created in the future (with clock skew)
5. signature over the content     12. expected vmId / subscriptionId, when given
6. signer key: RSA >= 2048 bits, and keyUsage (when present) allows digitalSignature
"""

from __future__ import annotations

import datetime
import functools
import hmac
from typing import Any, Dict, List, Mapping, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import spec
from .chain import verify_chain
from .cms import (
    Document,
    load_certificate,
    parse_signed_data,
    signature_bytes,
    signer_certificate,
)
from .content import parse_content, timestamps
from .errors import (
    DocumentExpiredError,
    DocumentNotYetValidError,
    KeyUsageError,
    NonceMismatchError,
    SanMismatchError,
    SignerCountError,
    SubscriptionMismatchError,
    VmIdMismatchError,
    WeakKeyError,
)
from .result import VerifiedDocument
from .signature import check_signature
from .trust import TrustStore

MIN_RSA_BITS = 2048
_KEY_USAGES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "contentCommitment"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
_AGREEMENT_USAGES = (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
DEFAULT_CLOCK_SKEW = datetime.timedelta(minutes=5)


def verify(
    document: Document,
    *,
    nonce: Optional[str],
    trust: Optional[TrustStore] = None,
    at: Optional[datetime.datetime] = None,
    cloud: Optional[str] = None,
    expect_vm_id: Optional[str] = None,
    expect_subscription_id: Optional[str] = None,
    clock_skew: datetime.timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedDocument:
    """Return the verified content of an attested ``document``.

    ``document`` is the JSON response (mapping or text) or the bare base64 signature.
    ``nonce`` is the nonce sent with the request; pass None only to skip that check
    deliberately (the result says so). ``trust`` defaults to the bundled roots with AIA
    fetching from the Microsoft/DigiCert allowlist; ``at`` (default: now) is the time for
    both the chain and the document's validity; ``cloud`` (an azEnvironment or metadata
    domain) restricts the accepted signer names to that cloud, otherwise any Azure cloud.

    Raises:
        AttestError: a subclass naming the first failed step (see ``azimds.attest.errors``).
        UnknownCloudError: ``cloud`` names no known cloud.
    """
    if cloud is not None:
        spec.cloud_name(cloud)  # fail fast on a typo
    when = spec.utc(at) if at is not None else datetime.datetime.now(datetime.timezone.utc)
    store = trust if trust is not None else default_trust()

    signed = parse_signed_data(signature_bytes(document))  # steps 1 and 2
    if len(signed.signers) != 1:  # step 3
        raise SignerCountError(
            f"the document has {len(signed.signers)} SignerInfos; exactly one is allowed"
        )
    signer = signed.signers[0]
    leaf = signer_certificate(signed, signer)  # step 4
    check_signature(signed.content, signer, leaf)  # step 5
    _check_key(leaf)  # step 6
    _check_key_usage(leaf)
    chain = verify_chain(store, leaf, _other_certificates(signed.certificates, leaf), when)  # 7
    names = dns_names(leaf)
    cloud_found = _check_cloud(names, cloud)  # step 8
    content = parse_content(signed.content)  # step 9
    _check_nonce(content, nonce)  # step 10
    created, expires = _check_window(content, when, clock_skew)  # step 11
    _check_expected(content, expect_vm_id, expect_subscription_id)  # step 12
    return VerifiedDocument(
        content=content,
        cloud=cloud_found,
        domain=spec.CLOUD_DOMAINS[cloud_found],
        signer_subject=leaf.subject.rfc4514_string(),
        signer_names=names,
        chain=chain,
        created_on=created,
        expires_on=expires,
        verified_at=when,
        nonce_checked=nonce is not None,
        signed_attributes=signer.signed_attributes is not None,
    )


@functools.lru_cache(maxsize=1)
def default_trust() -> TrustStore:
    """Return the shared default trust store (bundled roots, AIA fetching allowed, one cache)."""
    return TrustStore.default()


def dns_names(certificate: x509.Certificate) -> Tuple[str, ...]:
    """Return the DNS names in ``certificate``'s subjectAltName (empty when it has none)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(san.value.get_values_for_type(x509.DNSName))


def _check_key(certificate: x509.Certificate) -> None:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WeakKeyError(f"the signer's key is {type(key).__name__}, not RSA")
    if key.key_size < MIN_RSA_BITS:
        raise WeakKeyError(
            f"the signer's RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required"
        )


def _check_key_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return  # without the extension, the key may be used for anything (RFC 5280 4.2.1.3)
    if not usage.digital_signature:
        raise KeyUsageError(
            f"the signer certificate's keyUsage ({_usages(usage)}) does not allow digitalSignature"
        )


def _usages(usage: x509.KeyUsage) -> str:
    allowed = [name for attribute, name in _KEY_USAGES if getattr(usage, attribute)]
    if usage.key_agreement:  # only then may encipherOnly / decipherOnly be read
        allowed += [n for a, n in _AGREEMENT_USAGES if getattr(usage, a)]
    return ", ".join(allowed) or "nothing"


def _other_certificates(
    embedded: Tuple[Any, ...], leaf: x509.Certificate
) -> List[x509.Certificate]:
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    ders = (certificate.dump() for certificate in embedded)
    return [load_certificate(der) for der in ders if der != leaf_der]


def _check_cloud(names: Tuple[str, ...], cloud: Optional[str]) -> str:
    found = spec.cloud_of(names, cloud)
    if found is None:
        wanted = spec.metadata_domain(cloud) if cloud is not None else "an Azure metadata domain"
        raise SanMismatchError(
            f"the signer's DNS names {list(names) or '(none)'} are not {wanted} or a subdomain"
        )
    return found


def _check_nonce(content: Mapping[str, Any], nonce: Optional[str]) -> None:
    signed = str(content["nonce"])
    if nonce is not None and not hmac.compare_digest(signed.encode(), nonce.encode()):
        raise NonceMismatchError(
            f"the signed nonce {signed!r} is not the nonce of the request {nonce!r}"
        )


def _check_window(
    content: Dict[str, Any], when: datetime.datetime, skew: datetime.timedelta
) -> Tuple[datetime.datetime, datetime.datetime]:
    created, expires = timestamps(content)
    if when > expires + skew:
        raise DocumentExpiredError(
            f"the document expired at {expires.isoformat()} (checked at {when.isoformat()}, "
            f"allowing {skew} of clock skew)"
        )
    if created > when + skew:
        raise DocumentNotYetValidError(
            f"the document was created at {created.isoformat()}, in the future of "
            f"{when.isoformat()} (allowing {skew} of clock skew)"
        )
    return created, expires


def _check_expected(
    content: Mapping[str, Any],
    vm_id: Optional[str],
    subscription_id: Optional[str],
) -> None:
    if vm_id is not None and str(content.get("vmId", "")).lower() != vm_id.lower():
        raise VmIdMismatchError(f"the signed vmId is {content.get('vmId')!r}, expected {vm_id!r}")
    if subscription_id is not None:
        signed = content.get("subscriptionId")
        if signed is None or str(signed).lower() != subscription_id.lower():
            raise SubscriptionMismatchError(
                f"the signed subscriptionId is {signed!r}, expected {subscription_id!r}"
            )
