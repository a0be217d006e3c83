"""Decoding an attested document: the JSON response, base64, and the CMS SignedData inside.

Nothing here judges trust; it only turns bytes into the parts the verifier checks, raising the
error of the step that failed (encoding, CMS structure, signer certificate).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple, Union

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from ..imds import body
from .errors import CmsStructureError, EncodingError, SignerCertificateError
from .spec import ENCODING, OID_DATA, OID_SIGNED_DATA

OID_CONTENT_TYPE_ATTR = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST_ATTR = "1.2.840.113549.1.9.4"

# The DER tag of a SET OF: signed attributes are signed as a SET, not as their [0] field.
_SET_TAG = 0x31
# Real documents are about 3 KiB of base64; anything this large is not one.
MAX_DOCUMENT_CHARS = 1024 * 1024

Document = Union[str, bytes, Mapping[str, Any]]


@dataclass(frozen=True)
class Signer:
    """One SignerInfo, with the parts the signature check needs."""

    issuer: Optional[Any]  # asn1crypto Name of issuerAndSerialNumber
    issuer_text: str  # that name, readable ("" when the signer is named by key identifier)
    serial_number: Optional[int]
    subject_key_identifier: Optional[bytes]
    digest_algorithm: str  # dotted OID
    signature_algorithm: str  # dotted OID
    signature: bytes
    signed_attributes: Optional[bytes]  # DER of the SET OF attributes, as signed
    content_type: Optional[str]  # dotted OID of the contentType attribute
    message_digest: Optional[bytes]


@dataclass(frozen=True)
class SignedDocument:
    """A parsed SignedData: the embedded content, the embedded certificates, the signers."""

    content: bytes
    content_type: str
    certificates: Tuple[Any, ...]  # asn1crypto x509.Certificate
    signers: Tuple[Signer, ...]


def signature_bytes(document: Document) -> bytes:
    """Return the DER bytes of the SignedData in ``document``.

    ``document`` is the JSON response (a mapping, or its text) of
    ``/metadata/attested/document``, or the bare base64 value of its ``signature`` field.

    Raises:
        EncodingError: the response is not strict JSON (a repeated key such as two
            ``signature`` keys is refused) with ``encoding`` "pkcs7" and a string
            ``signature``, or the signature is not valid base64.
    """
    if isinstance(document, (str, bytes)) and len(document) > MAX_DOCUMENT_CHARS:
        raise EncodingError(f"the document is larger than {MAX_DOCUMENT_CHARS} characters")
    if isinstance(document, bytes):
        try:
            document = document.decode("ascii")
        except UnicodeDecodeError:
            raise EncodingError("the document is not text: expected JSON or base64") from None
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("{"):
            try:
                document = body.loads(text, unique_keys=True)
            except ValueError as exc:
                raise EncodingError(f"the response is not valid JSON ({exc})") from None
        else:
            return _b64decode(text)
    if not isinstance(document, Mapping):
        raise EncodingError(f"expected a JSON object or base64 text, got {type(document).__name__}")
    encoding = document.get("encoding")
    if encoding != ENCODING:
        raise EncodingError(f"the response's encoding is {encoding!r}, expected {ENCODING!r}")
    signature = document.get("signature")
    if not isinstance(signature, str):
        raise EncodingError("the response has no string 'signature' field")
    if len(signature) > MAX_DOCUMENT_CHARS:
        raise EncodingError(f"the signature is larger than {MAX_DOCUMENT_CHARS} characters")
    return _b64decode(signature)


def _b64decode(text: str) -> bytes:
    compact = "".join(text.split())
    if not compact:
        raise EncodingError("the signature is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"the signature is not valid base64 ({exc})") from None


def parse_signed_data(der: bytes) -> SignedDocument:
    """Return the parts of the CMS/PKCS#7 SignedData encoded in ``der``.

    Raises:
        CmsStructureError: ``der`` is not a complete ContentInfo holding SignedData with
            embedded ``data`` content, or a field is malformed.
    """
    try:
        info = cms.ContentInfo.load(der, strict=True)
        content_type = info["content_type"].dotted
        if content_type != OID_SIGNED_DATA:
            raise CmsStructureError(
                f"the ContentInfo holds {content_type}, not SignedData ({OID_SIGNED_DATA})"
            )
        signed = info["content"]
        encap = signed["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        if econtent_type != OID_DATA:
            raise CmsStructureError(
                f"the signed content type is {econtent_type}, not data ({OID_DATA})"
            )
        econtent = encap["content"]
        if isinstance(econtent, core.Void) or econtent.native is None:
            raise CmsStructureError("the SignedData has no embedded content (detached signature)")
        content = bytes(econtent.native)
        certificates = _certificates(signed)
        signers = tuple(_signer(info) for info in signed["signer_infos"])
    except CmsStructureError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CmsStructureError(
            f"the signature is not well-formed CMS SignedData ({exc})"
        ) from None
    return SignedDocument(
        content=content, content_type=econtent_type, certificates=certificates, signers=signers
    )


def _certificates(signed: Any) -> Tuple[Any, ...]:
    found: List[Any] = []
    certificates = signed["certificates"]
    if isinstance(certificates, core.Void):
        return ()
    for choice in certificates:
        if choice.name == "certificate":
            found.append(choice.chosen)
    return tuple(found)


def _signer(info: Any) -> Signer:
    sid = info["sid"]
    issuer = serial = ski = None
    issuer_text = ""
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        issuer_text = issuer.human_friendly  # decodes the whole name: malformed fails here
        serial = int(sid.chosen["serial_number"].native)
    else:
        ski = bytes(sid.chosen.native)
    attributes = info["signed_attrs"]
    signed_der = content_type = digest = None
    if not isinstance(attributes, core.Void):
        raw = attributes.dump()
        signed_der = bytes([_SET_TAG]) + raw[1:]
        content_type, digest = _attribute_values(attributes)
    return Signer(
        issuer=issuer,
        issuer_text=issuer_text,
        serial_number=serial,
        subject_key_identifier=ski,
        digest_algorithm=info["digest_algorithm"]["algorithm"].dotted,
        signature_algorithm=info["signature_algorithm"]["algorithm"].dotted,
        signature=bytes(info["signature"].native),
        signed_attributes=signed_der,
        content_type=content_type,
        message_digest=digest,
    )


def _attribute_values(attributes: Any) -> Tuple[Optional[str], Optional[bytes]]:
    content_type: Optional[str] = None
    digest: Optional[bytes] = None
    seen = set()
    for attribute in attributes:
        oid = attribute["type"].dotted
        if oid in seen:
            raise CmsStructureError(f"the signed attribute {oid} appears twice")
        seen.add(oid)
        values = attribute["values"]
        if oid in (OID_CONTENT_TYPE_ATTR, OID_MESSAGE_DIGEST_ATTR) and len(values) != 1:
            raise CmsStructureError(f"the signed attribute {oid} must have exactly one value")
        if oid == OID_CONTENT_TYPE_ATTR:
            content_type = values[0].dotted
        elif oid == OID_MESSAGE_DIGEST_ATTR:
            digest = bytes(values[0].native)
    return content_type, digest


def signer_certificate(document: SignedDocument, signer: Signer) -> x509.Certificate:
    """Return the embedded certificate that ``signer`` names by issuer and serial (or SKI).

    Raises:
        SignerCertificateError: no embedded certificate matches.
        CmsStructureError: the matching certificate cannot be decoded.
    """
    for certificate in document.certificates:
        if _matches(certificate, signer):
            return load_certificate(certificate.dump(), "the signer's certificate")
    if signer.issuer is not None:
        wanted = f"issuer '{signer.issuer_text}', serial {signer.serial_number:x}"
    else:
        wanted = f"subject key identifier {(signer.subject_key_identifier or b'').hex()}"
    raise SignerCertificateError(
        f"none of the {len(document.certificates)} embedded certificate(s) is the signer's "
        f"({wanted})"
    )


def load_certificate(der: bytes, what: str = "an embedded certificate") -> x509.Certificate:
    """Return the certificate in ``der``, with every field the verifier reads decoded.

    Raises:
        CmsStructureError: the certificate (``what``) is malformed.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        # cryptography decodes these lazily; decode them now so a malformed one fails here.
        certificate.subject  # noqa: B018
        certificate.issuer  # noqa: B018
        certificate.extensions  # noqa: B018
        certificate.public_key()
    except (
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
        x509.InvalidVersion,  # not a ValueError: a version byte other than v1/v3
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise CmsStructureError(f"{what} is malformed ({exc})") from None
    return certificate


def _matches(certificate: asn1_x509.Certificate, signer: Signer) -> bool:
    try:
        if signer.issuer is not None:
            if certificate.serial_number != signer.serial_number:
                return False
            issuer = certificate.issuer
            # Same bytes is the common case; otherwise compare as RFC 5280 says (normalized).
            return bool(issuer.dump() == signer.issuer.dump() or issuer == signer.issuer)
        return bool(certificate.key_identifier == signer.subject_key_identifier)
    except (ValueError, TypeError, KeyError):
        return False
