"""The signature check: does the signer's key sign exactly the embedded content?

Two shapes are accepted. Azure's: no signed attributes, the RSA PKCS#1 v1.5 signature is over
the content itself, and the SignerInfo's digestAlgorithm holds sha256WithRSAEncryption instead
of a digest OID. Standard CMS: signed attributes whose messageDigest is the content's digest,
and the signature over the DER SET of those attributes.
"""

from __future__ import annotations

import hmac
from typing import Callable, Dict, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import Certificate

from .cms import Signer
from .errors import SignatureError, WeakAlgorithmError
from .spec import ACCEPTED_HASHES, OID_DATA, OID_RSA_ENCRYPTION, RSA_WITH_HASH_OIDS

_HASHES: Dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# The standard CMS digest OIDs, and the RSA signature OIDs Azure puts in their place.
_DIGEST_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_RSA_WITH_HASH = {RSA_WITH_HASH_OIDS[name]: name for name in ACCEPTED_HASHES}
_HASH_OF = {**_DIGEST_OIDS, **_RSA_WITH_HASH}
_WEAK: Dict[str, str] = {
    "1.2.840.113549.2.5": "MD5",
    "1.3.14.3.2.26": "SHA-1",
    RSA_WITH_HASH_OIDS["md5"]: "MD5 with RSA",
    RSA_WITH_HASH_OIDS["sha1"]: "SHA-1 with RSA",
}


def signature_hash(signer: Signer) -> hashes.HashAlgorithm:
    """Return the hash ``signer`` signs with, accepting Azure's RSA OID as a digest OID.

    Raises:
        WeakAlgorithmError: the digest or signature algorithm is MD5, SHA-1 or unknown.
        SignatureError: the digest and signature algorithms name different hashes.
    """
    digest = signer.digest_algorithm
    if digest in _WEAK:
        raise WeakAlgorithmError(f"the signature uses the broken digest {_WEAK[digest]}")
    if digest not in _HASH_OF:
        raise WeakAlgorithmError(f"the signature uses the unsupported digest algorithm {digest}")
    algorithm = signer.signature_algorithm
    if algorithm in _WEAK:
        raise WeakAlgorithmError(f"the signature algorithm is the broken {_WEAK[algorithm]}")
    if algorithm != OID_RSA_ENCRYPTION and algorithm not in _RSA_WITH_HASH:
        raise WeakAlgorithmError(f"the signature algorithm {algorithm} is not supported")
    name = _HASH_OF[digest]
    if algorithm in _RSA_WITH_HASH and _RSA_WITH_HASH[algorithm] != name:
        raise SignatureError(
            f"the digest algorithm ({name.upper()}) and the signature algorithm "
            f"({_RSA_WITH_HASH[algorithm].upper()}) disagree"
        )
    return _HASHES[name]()


def check_signature(content: bytes, signer: Signer, certificate: Certificate) -> None:
    """Return None when ``certificate``'s key signed ``content`` as ``signer`` describes.

    Raises:
        WeakAlgorithmError: the algorithms are broken or unsupported, or the key is not RSA.
        SignatureError: the signature, or the signed attributes' messageDigest, does not match.
    """
    algorithm = signature_hash(signer)
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WeakAlgorithmError(
            f"the signer's key is {type(key).__name__}; only RSA signatures are accepted"
        )
    signed = content
    if signer.signed_attributes is not None:
        _check_attributes(content, signer, algorithm)
        signed = signer.signed_attributes
    try:
        key.verify(signer.signature, signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        what = "signed attributes" if signer.signed_attributes is not None else "content"
        raise SignatureError(
            f"the RSA signature does not verify over the embedded {what} with the key of "
            f"'{certificate.subject.rfc4514_string()}'"
        ) from None


def _check_attributes(content: bytes, signer: Signer, algorithm: hashes.HashAlgorithm) -> None:
    if signer.content_type != OID_DATA:
        raise SignatureError(
            f"the signed contentType attribute is {signer.content_type or 'missing'}, "
            f"expected data ({OID_DATA})"
        )
    expected: Optional[bytes] = signer.message_digest
    if expected is None:
        raise SignatureError("the signed attributes have no messageDigest")
    digest = hashes.Hash(algorithm)
    digest.update(content)
    if not hmac.compare_digest(digest.finalize(), expected):
        raise SignatureError("the signed messageDigest does not match the embedded content")
