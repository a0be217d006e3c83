"""Why an attested document was rejected: one exception class, code and exit code per reason.

Verification stops at the first failing step; the exception says which step failed (``code``),
what was found (the message) and what to do about it (``hint``). The CLI exits with
``exit_code``. The table in docs/attestation.md lists them all.
"""

from __future__ import annotations

from typing import ClassVar, Dict, List, Type

from .spec import CLOUD_DOMAINS


class AttestError(Exception):
    """Base class: an attested document could not be fetched or was rejected."""

    code: ClassVar[str] = "attest-error"
    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint or self.default_hint
        super().__init__(f"{message.rstrip('.')}. {self.hint}" if self.hint else message)

    def to_json(self) -> Dict[str, str]:
        """Return ``{"code", "message", "hint"}`` for machine-readable output."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


class FetchError(AttestError):
    """The document could not be fetched from the IMDS endpoint."""

    code = "fetch-failed"
    exit_code = 4
    default_hint = "Check the endpoint URL and that IMDS (or the emulator) answers there"


class EncodingError(AttestError):
    """Step 1: the response is not ``{"encoding": "pkcs7", "signature": <base64>}``."""

    code = "bad-encoding"
    exit_code = 10
    default_hint = (
        "Pass the JSON response of /metadata/attested/document or its base64 'signature' value"
    )


class CmsStructureError(AttestError):
    """Step 2: the decoded bytes are not a well-formed CMS/PKCS#7 SignedData with content."""

    code = "bad-cms"
    exit_code = 11
    default_hint = "The document is corrupt or truncated; fetch a fresh one"


class SignerCountError(AttestError):
    """Step 3: the SignedData does not have exactly one SignerInfo."""

    code = "signer-count"
    exit_code = 12
    default_hint = "IMDS signs with exactly one signer; treat this document as forged"


class SignerCertificateError(AttestError):
    """Step 4: no embedded certificate matches the SignerInfo's issuer and serial number."""

    code = "signer-certificate-missing"
    exit_code = 13
    default_hint = "The signer's certificate must be embedded; treat this document as forged"


class WeakAlgorithmError(AttestError):
    """Step 5: the signature uses a broken or unsupported digest or signature algorithm."""

    code = "weak-algorithm"
    exit_code = 14
    default_hint = "Only RSA PKCS#1 v1.5 with SHA-256/384/512 is accepted"


class SignatureError(AttestError):
    """Step 5: the signature does not verify over the embedded content."""

    code = "bad-signature"
    exit_code = 15
    default_hint = "The content or signature was altered; treat this document as forged"


class WeakKeyError(AttestError):
    """Step 6: the signer's key is not RSA of at least 2048 bits."""

    code = "weak-key"
    exit_code = 16
    default_hint = "Azure signs with RSA keys of 2048 bits or more; treat this document as forged"


class KeyUsageError(AttestError):
    """Step 6: the signer certificate's keyUsage extension does not allow digitalSignature."""

    code = "key-usage"
    exit_code = 17
    default_hint = (
        "Azure's signer certificates allow digitalSignature; a certificate issued for another "
        "use must not sign documents: treat this document as forged"
    )


class UntrustedChainError(AttestError):
    """Step 7: the signer certificate does not chain to a trusted root."""

    code = "untrusted-chain"
    exit_code = 20
    default_hint = (
        "A genuine Azure document chains to a bundled root, fetching a missing intermediate "
        "from its AIA URL unless offline; a document of the azimds emulator needs the "
        "emulator's root trusted (--trust) and its address allowed to serve the intermediate "
        "(--aia-host, implied by attest --endpoint)"
    )


class CertificateExpiredError(AttestError):
    """Step 7: the chain is trusted but a certificate in it is not valid at the given time."""

    code = "certificate-expired"
    exit_code = 21
    default_hint = "Fetch a fresh document; to check an old one, verify at its time (--at)"


class SanMismatchError(AttestError):
    """Step 8: the signer's DNS names are not the expected cloud's metadata domain."""

    code = "wrong-cloud"
    exit_code = 22
    default_hint = (
        f"The signer must be {', '.join(CLOUD_DOMAINS.values())} (or a subdomain) as fits the "
        "VM's cloud; check --cloud"
    )


class ContentError(AttestError):
    """Step 9: the signed content is not the expected JSON object."""

    code = "bad-content"
    exit_code = 30
    default_hint = "The signed content must be a JSON object with nonce and timeStamp"


class NonceMismatchError(AttestError):
    """Step 10: the signed nonce is not the nonce of the request."""

    code = "nonce-mismatch"
    exit_code = 31
    default_hint = "The document answers another request (possibly a replay); fetch a fresh one"


class DocumentExpiredError(AttestError):
    """Step 11: the document's expiresOn has passed (beyond the clock-skew allowance)."""

    code = "document-expired"
    exit_code = 32
    default_hint = "Fetch a fresh document; to check an old one, verify at its time (--at)"


class DocumentNotYetValidError(AttestError):
    """Step 11: the document's createdOn is in the future (beyond the clock-skew allowance)."""

    code = "document-not-yet-valid"
    exit_code = 33
    default_hint = "Check this machine's clock, or verify at a later time (--at)"


class VmIdMismatchError(AttestError):
    """Step 12: the signed vmId is not the expected one."""

    code = "vm-id-mismatch"
    exit_code = 34
    default_hint = "The document was issued to another VM"


class SubscriptionMismatchError(AttestError):
    """Step 12: the signed subscriptionId is not the expected one."""

    code = "subscription-mismatch"
    exit_code = 35
    default_hint = "The document was issued to a VM of another subscription"


def all_errors() -> List[Type[AttestError]]:
    """Return every error class, in the order of the verification steps."""
    return [
        FetchError,
        EncodingError,
        CmsStructureError,
        SignerCountError,
        SignerCertificateError,
        WeakAlgorithmError,
        SignatureError,
        WeakKeyError,
        KeyUsageError,
        UntrustedChainError,
        CertificateExpiredError,
        SanMismatchError,
        ContentError,
        NonceMismatchError,
        DocumentExpiredError,
        DocumentNotYetValidError,
        VmIdMismatchError,
        SubscriptionMismatchError,
    ]
