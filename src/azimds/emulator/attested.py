"""The emulator's side of /metadata/attested/document: a test CA, signing, the content.

Each emulator creates one :class:`AttestationCA` (root -> intermediate, RSA-2048). For each
cloud and region it serves, the CA issues a leaf certificate for the cloud's metadata domain and
its regional subdomain (``westus.metadata.azure.com``), whose AIA "CA Issuers" URL points back
at the emulator, which serves the intermediate there. Documents are signed exactly in the shape
of real ones: PKCS#7 SignedData with the JSON as embedded data, no signed attributes,
sha256WithRSAEncryption in the digestAlgorithm fields, only the leaf embedded.

Nothing trusts this CA by default; export :meth:`AttestationCA.root_pem` and tell a verifier
to trust it (``azimds verify --trust root.pem``).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..attest import spec
from ..attest.spec import NonceError
from ..imds import versions

# Paths under which an emulator serves its CA (the leaf's AIA URL is INTERMEDIATE_DER_PATH).
ROOT_PEM_PATH = spec.EMULATOR_ROOT_PEM_PATH
INTERMEDIATE_PEM_PATH = "/azimds/attested/intermediate.pem"
INTERMEDIATE_DER_PATH = "/azimds/attested/intermediate.crt"

KEY_SIZE = 2048
# The keyUsage of Azure's metadata leafs (critical): digitalSignature and keyEncipherment.
LEAF_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=True,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)

CertificateHash = Union[hashes.SHA256, hashes.SHA384, hashes.SHA512]
_DAY = datetime.timedelta(days=1)


class AttestedRequestError(ValueError):
    """An attested-document request cannot be answered; the message says why and what to do."""


__all__ = [
    "INTERMEDIATE_DER_PATH",
    "INTERMEDIATE_PEM_PATH",
    "LEAF_KEY_USAGE",
    "ROOT_PEM_PATH",
    "AttestationCA",
    "AttestedRequestError",
    "AttestedSigner",
    "NonceError",
    "answer",
    "attested_content",
    "build_signed_data",
    "content_bytes",
    "issue_leaf",
    "signer_for",
]


def attested_content(
    instance_document: Mapping[str, Any],
    api_version: str,
    nonce: Optional[str],
    now: datetime.datetime,
) -> Dict[str, Any]:
    """Return the content IMDS signs for ``instance_document`` at ``api_version``.

    Fields, by the version they appeared in (``versions.ATTESTED_FIELD_INTRODUCED``): nonce,
    plan, timeStamp and vmId; subscriptionId (2019-04-30); sku (2019-11-01); licenseType
    (2020-09-01). The document is valid for 6 hours from ``now`` (naive means UTC). Without a
    nonce (None or ""), the nonce is a ``YYYYMMDD-HHMMSS`` timestamp; like in the real documents
    of ``tests/data/attested``, it is the time of ``expiresOn``.

    Raises:
        NonceError: ``nonce`` is not 1 to 32 ASCII letters and digits.
        AttestedRequestError: ``api_version`` predates the attested endpoint (2018-10-01).
    """
    since = versions.ENDPOINT_INTRODUCED["attested"]
    if api_version < since:
        raise AttestedRequestError(
            f"api-version {api_version} has no attested document; use {since} or later"
        )
    created = spec.utc(now).replace(microsecond=0)
    expires = created + spec.DOCUMENT_VALIDITY
    compute = instance_document.get("compute", {})
    plan = compute.get("plan") or {}
    content = {
        "licenseType": str(compute.get("licenseType", "")),
        "nonce": spec.check_nonce(nonce) if nonce else expires.strftime(spec.NO_NONCE_FORMAT),
        "plan": {key: str(plan.get(key, "")) for key in spec.PLAN_FIELDS},
        "sku": str(compute.get("sku", "")),
        "subscriptionId": str(compute.get("subscriptionId", "")),
        "timeStamp": {
            "createdOn": spec.format_time(created),
            "expiresOn": spec.format_time(expires),
        },
        "vmId": str(compute.get("vmId", "")),
    }
    return versions.attested_content_at(content, api_version)


def content_bytes(content: Mapping[str, Any]) -> bytes:
    """Return ``content`` serialized as IMDS signs it: compact JSON, keys sorted."""
    return json.dumps(content, separators=(",", ":"), sort_keys=True).encode("utf-8")


def build_signed_data(
    content: bytes,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    *,
    hash_algorithm: Optional[hashes.HashAlgorithm] = None,
    certificates: Optional[Sequence[x509.Certificate]] = None,
) -> bytes:
    """Return DER PKCS#7 SignedData over ``content`` in Azure's shape.

    The JSON is embedded as data content; there are no signed attributes; the digestAlgorithm
    fields hold ``<hash>WithRSAEncryption`` (1.2.840.113549.1.1.11 for SHA-256); the signature
    is RSA PKCS#1 v1.5 over ``content``. ``certificates`` (default: just ``certificate``) are
    embedded.
    """
    algorithm = hash_algorithm if hash_algorithm is not None else hashes.SHA256()
    digest_oid = spec.RSA_WITH_HASH_OIDS[algorithm.name]
    signature = key.sign(content, padding.PKCS1v15(), algorithm)
    embedded = [certificate] if certificates is None else list(certificates)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {
                        "issuer": asn1_x509.Name.load(certificate.issuer.public_bytes()),
                        "serial_number": certificate.serial_number,
                    }
                ),
            ),
            "digest_algorithm": {"algorithm": digest_oid, "parameters": core.Null()},
            "signature_algorithm": {
                "algorithm": spec.OID_RSA_ENCRYPTION,
                "parameters": core.Null(),
            },
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest_oid, "parameters": core.Null()}],
            "encap_content_info": {"content_type": spec.OID_DATA, "content": content},
            "certificates": [_asn1_certificate(c) for c in embedded],
            "signer_infos": [signer_info],
        }
    )
    info = cms.ContentInfo({"content_type": spec.OID_SIGNED_DATA, "content": signed_data})
    return bytes(info.dump())


@dataclass(frozen=True)
class AttestedSigner:
    """A leaf certificate and its key: signs attested documents for one cloud and region."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    def sign(self, content: bytes) -> str:
        """Return the base64 PKCS#7 signature of ``content`` (the ``signature`` field)."""
        der = build_signed_data(content, self.certificate, self.key)
        return base64.b64encode(der).decode("ascii")

    def document(self, content: Mapping[str, Any]) -> Dict[str, str]:
        """Return the response body: ``{"encoding": "pkcs7", "signature": <base64>}``."""
        return {"encoding": spec.ENCODING, "signature": self.sign(content_bytes(content))}


class AttestationCA:
    """One emulator's test CA: root -> intermediate, issuing a leaf per cloud and region.

    All leafs share one RSA key (made once), so a fleet of VMs costs a certificate per
    region, not a key per VM. Thread-safe.
    """

    def __init__(
        self, *, now: Optional[datetime.datetime] = None, key_size: int = KEY_SIZE
    ) -> None:
        self.created = (
            spec.utc(now) if now is not None else datetime.datetime.now(datetime.timezone.utc)
        )
        self.label = secrets.token_hex(4)
        self.root_key = _new_key(key_size)
        self.intermediate_key = _new_key(key_size)
        self.leaf_key = _new_key(key_size)
        start = self.created - _DAY
        self.root = _ca_certificate(
            f"azimds emulator test root {self.label} (not trusted by default)",
            self.root_key,
            None,
            None,
            start,
            self.created + 3650 * _DAY,
        )
        self.intermediate = _ca_certificate(
            f"azimds emulator test issuing CA {self.label}",
            self.intermediate_key,
            self.root,
            self.root_key,
            start,
            self.created + 1825 * _DAY,
        )
        self._signers: Dict[Tuple[str, str, Optional[str]], AttestedSigner] = {}
        self._lock = threading.Lock()

    def signer(self, domain: str, region: str, ca_issuers_url: Optional[str]) -> AttestedSigner:
        """Return the (cached) signer whose leaf names ``domain`` and ``<region>.<domain>``.

        ``ca_issuers_url`` goes into the leaf's AIA extension (None leaves it out).
        """
        key = (domain, region, ca_issuers_url)
        with self._lock:
            signer = self._signers.get(key)
            if signer is None:
                names = [domain] + ([f"{region}.{domain}"] if region else [])
                certificate = issue_leaf(
                    self.intermediate,
                    self.intermediate_key,
                    names,
                    key=self.leaf_key,
                    ca_issuers_url=ca_issuers_url,
                    not_before=self.created - _DAY,
                    not_after=self.created + 365 * _DAY,
                )
                signer = AttestedSigner(certificate, self.leaf_key)
                self._signers[key] = signer
        return signer

    def root_pem(self) -> bytes:
        """Return the root certificate as PEM (give it to a verifier to trust)."""
        return self.root.public_bytes(serialization.Encoding.PEM)

    def intermediate_pem(self) -> bytes:
        """Return the intermediate certificate as PEM."""
        return self.intermediate.public_bytes(serialization.Encoding.PEM)

    def intermediate_der(self) -> bytes:
        """Return the intermediate certificate as DER (what the AIA URL serves)."""
        return self.intermediate.public_bytes(serialization.Encoding.DER)


def signer_for(
    ca: AttestationCA, instance_document: Mapping[str, Any], ca_issuers_url: Optional[str]
) -> AttestedSigner:
    """Return ``ca``'s signer for the VM's cloud (compute.azEnvironment) and region (location).

    Raises:
        AttestedRequestError: the azEnvironment names no known cloud.
    """
    compute = instance_document.get("compute", {})
    try:
        domain = spec.metadata_domain(str(compute.get("azEnvironment", "")))
    except ValueError as exc:
        raise AttestedRequestError(f"cannot sign for this VM: {exc}") from None
    region = re.sub(r"[^a-z0-9-]", "", str(compute.get("location", "")).lower()).strip("-")
    return ca.signer(domain, region, ca_issuers_url)


def answer(
    ca: AttestationCA,
    instance_document: Mapping[str, Any],
    api_version: str,
    nonce: Optional[str],
    *,
    now: datetime.datetime,
    ca_issuers_url: Optional[str],
) -> Tuple[int, Dict[str, Any]]:
    """Return ``(status, body)`` for a request for the attested document.

    200 with ``{"encoding": "pkcs7", "signature": ...}``, or 400 with an IMDS-style
    ``{"error": "Bad request. ..."}`` for a bad nonce. The api-version must already be
    checked as offered by the VM.
    """
    try:
        content = attested_content(instance_document, api_version, nonce, now)
        signer = signer_for(ca, instance_document, ca_issuers_url)
    except (NonceError, AttestedRequestError) as exc:
        return 400, {"error": f"Bad request. {exc}"}
    return 200, signer.document(content)


def issue_leaf(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    dns_names: Sequence[str],
    *,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    key: Optional[rsa.RSAPrivateKey] = None,
    ca_issuers_url: Optional[str] = None,
    hash_algorithm: Optional[CertificateHash] = None,
    serial_number: Optional[int] = None,
    extended_key_usage: Sequence[x509.ObjectIdentifier] = (
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ),
    key_usage: Optional[x509.KeyUsage] = LEAF_KEY_USAGE,
) -> x509.Certificate:
    """Return a leaf certificate for ``dns_names`` shaped like Azure's metadata leafs.

    Subject CN is the first name; SAN all of them; keyUsage ``key_usage`` (critical;
    digitalSignature and keyEncipherment; None leaves the extension out); EKU
    ``extended_key_usage`` (serverAuth and clientAuth); AIA "CA Issuers" ``ca_issuers_url``
    when given. ``key`` defaults to a new RSA-2048 key, the serial number to a random one.
    """
    subject_key = key if key is not None else _new_key(KEY_SIZE)
    public = subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.ExtendedKeyUsage(list(extended_key_usage)), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(_authority_key_id(issuer), False)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, True)
    if ca_issuers_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers_url),
                    )
                ]
            ),
            False,
        )
    return builder.sign(issuer_key, hash_algorithm or hashes.SHA256())


def _ca_certificate(
    common_name: str,
    key: rsa.RSAPrivateKey,
    issuer: Optional[x509.Certificate],
    issuer_key: Optional[rsa.RSAPrivateKey],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.EMULATOR_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
    )
    if issuer is not None:
        builder = builder.add_extension(_authority_key_id(issuer), False).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        )
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _asn1_certificate(certificate: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _new_key(key_size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
