"""The negative matrix: forged and faulty documents, each rejected at its own step."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, Union

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azimds.attest import (
    AiaFetcher,
    AttestError,
    CertificateExpiredError,
    CmsStructureError,
    ContentError,
    DocumentExpiredError,
    DocumentNotYetValidError,
    EncodingError,
    KeyUsageError,
    NonceMismatchError,
    SanMismatchError,
    SignatureError,
    SignerCertificateError,
    SignerCountError,
    SubscriptionMismatchError,
    TrustStore,
    UntrustedChainError,
    VmIdMismatchError,
    WeakAlgorithmError,
    WeakKeyError,
    verify,
)
from azimds.emulator.attested import LEAF_KEY_USAGE, build_signed_data, content_bytes, issue_leaf
from test_attest_support import (
    NONCE,
    VM_INSTANCE,
    as_response,
    ca_signer,
    ca_trust,
    content_for,
    der_of,
    now,
    other_ca,
    rewrite,
    shared_ca,
    signed_document,
)

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
Document = Union[Mapping[str, str], str]


def leaf_document(
    names: List[str],
    *,
    key_usage: Optional[x509.KeyUsage] = LEAF_KEY_USAGE,
    key_size: int = 2048,
    not_before: Optional[datetime.datetime] = None,
    not_after: Optional[datetime.datetime] = None,
    hash_algorithm: Optional[hashes.HashAlgorithm] = None,
    content: Optional[bytes] = None,
) -> Dict[str, str]:
    """Return a document signed by a fresh leaf of the shared CA, named ``names``."""
    ca = shared_ca()
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    leaf = issue_leaf(
        ca.intermediate,
        ca.intermediate_key,
        names,
        key=key,
        not_before=not_before or now() - DAY,
        not_after=not_after or now() + DAY,
        key_usage=key_usage,
    )
    payload = content if content is not None else content_bytes(content_for())
    return as_response(build_signed_data(payload, leaf, key, hash_algorithm=hash_algorithm))


def flipped_content_byte() -> Document:
    der = bytearray(der_of(signed_document()))
    at = bytes(der).index(b'"vmId":"') + len(b'"vmId":"')
    der[at] ^= 0x01  # "1" -> "0": still JSON, no longer what was signed
    return as_response(bytes(der))


def substituted_content() -> Document:
    forged = dict(content_for(), vmId="00000000-0000-0000-0000-000000000000")

    def swap(signed: Any) -> None:
        signed["encap_content_info"] = dict(
            {"content_type": "data", "content": content_bytes(forged)}
        )

    return as_response(rewrite(der_of(signed_document()), swap))


def second_signer() -> Document:
    other = cms.ContentInfo.load(der_of(signed_document(signer=ca_signer(other_ca()))))
    extra = other["content"]["signer_infos"][0]

    def add(signed: Any) -> None:
        signed["signer_infos"] = cms.SignerInfos([signed["signer_infos"][0].copy(), extra.copy()])

    return as_response(rewrite(der_of(signed_document()), add))


def no_signer() -> Document:
    def drop(signed: Any) -> None:
        signed["signer_infos"] = cms.SignerInfos([])

    return as_response(rewrite(der_of(signed_document()), drop))


def swapped_certificate() -> Document:
    stranger = ca_signer(other_ca()).certificate

    def swap(signed: Any) -> None:
        signed["certificates"] = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=_asn1(stranger))]
        )

    return as_response(rewrite(der_of(signed_document()), swap))


def impostor_with_same_issuer_and_serial() -> Document:
    ca, genuine = shared_ca(), ca_signer().certificate
    impostor = issue_leaf(
        ca.intermediate,
        ca.intermediate_key,
        ["metadata.azure.com"],
        not_before=now() - DAY,
        not_after=now() + DAY,
        serial_number=genuine.serial_number,
    )

    def swap(signed: Any) -> None:
        signed["certificates"] = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=_asn1(impostor))]
        )

    return as_response(rewrite(der_of(signed_document()), swap))


def detached_content() -> Document:
    def detach(signed: Any) -> None:
        signed["encap_content_info"] = dict({"content_type": "data"})

    return as_response(rewrite(der_of(signed_document()), detach))


def code_signing_leaf() -> Document:
    ca = shared_ca()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = issue_leaf(
        ca.intermediate,
        ca.intermediate_key,
        ["metadata.azure.com"],
        key=key,
        not_before=now() - DAY,
        not_after=now() + DAY,
        extended_key_usage=[ExtendedKeyUsageOID.CODE_SIGNING],
    )
    return as_response(build_signed_data(content_bytes(content_for()), leaf, key))


def self_signed_leaf() -> Document:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metadata.azure.com")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - DAY)
        .not_valid_after(now() + DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("metadata.azure.com")]), False)
        .sign(key, hashes.SHA256())
    )
    return as_response(build_signed_data(content_bytes(content_for()), leaf, key))


def weak_digest_oid(oid: str) -> Callable[[], Document]:
    def build() -> Document:
        def weaken(signed: Any) -> None:
            signer = signed["signer_infos"][0]
            signer["digest_algorithm"] = {"algorithm": oid}
            signed["signer_infos"] = cms.SignerInfos([signer.copy()])

        return as_response(rewrite(der_of(signed_document()), weaken))

    return build


def disagreeing_algorithms() -> Document:
    def change(signed: Any) -> None:
        signer = signed["signer_infos"][0]
        signer["signature_algorithm"] = {"algorithm": "1.2.840.113549.1.1.13"}  # sha512WithRSA
        signed["signer_infos"] = cms.SignerInfos([signer.copy()])

    return as_response(rewrite(der_of(signed_document()), change))


def other_content_type() -> Document:
    data_oid = bytes.fromhex("06092a864886f70d010701")  # 1.2.840.113549.1.7.1 (data)
    der = der_of(signed_document())
    assert der.count(data_oid) == 1
    return as_response(der.replace(data_oid, data_oid[:-1] + b"\x05"))  # digestedData


def _asn1(certificate: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def signed_text(text: bytes) -> Callable[[], Document]:
    """Return a builder of a document whose signed content is exactly ``text``."""
    return lambda: leaf_document(["metadata.azure.com"], content=text)


def _genuine_json() -> bytes:
    return content_bytes(content_for())


def with_member(member: bytes) -> Callable[[], Document]:
    """Return a builder of a genuine content with ``member`` (``"key":value``) appended."""
    return lambda: leaf_document(
        ["metadata.azure.com"], content=_genuine_json()[:-1] + b"," + member + b"}"
    )


def wrapper(text: str) -> Callable[[], Document]:
    """Return a builder of a response text ``text`` with {sig} replaced by a genuine signature."""
    return lambda: text.replace("{sig}", signed_document()["signature"])


ENCIPHERMENT_ONLY = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=True,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


@dataclass
class Case:
    """One forgery: how to build it, what to verify it with, the error and its message."""

    build: Callable[[], Document]
    error: Type[AttestError]
    message: str
    options: Dict[str, Any] = field(default_factory=dict)


CASES: Dict[str, Case] = {
    "flipped byte in the content": Case(flipped_content_byte, SignatureError, "does not verify"),
    "real signature with substituted content": Case(
        substituted_content, SignatureError, "does not verify over the embedded content"
    ),
    "a second SignerInfo": Case(second_signer, SignerCountError, "2 SignerInfos"),
    "no SignerInfo": Case(no_signer, SignerCountError, "0 SignerInfos"),
    "embedded certificate swapped for another": Case(
        swapped_certificate, SignerCertificateError, "none of the 1 embedded certificate"
    ),
    "impostor certificate with the signer's issuer and serial": Case(
        impostor_with_same_issuer_and_serial, SignatureError, "does not verify"
    ),
    "unknown intermediate": Case(
        lambda: signed_document(signer=ca_signer(other_ca())),
        UntrustedChainError,
        "does not chain",
        {"trust": "other-ca-root-only"},
    ),
    "expired leaf": Case(
        lambda: leaf_document(
            ["metadata.azure.com"], not_before=now() - 30 * DAY, not_after=now() - HOUR
        ),
        CertificateExpiredError,
        "expired on",
    ),
    "leaf not yet valid": Case(
        lambda: leaf_document(
            ["metadata.azure.com"], not_before=now() + DAY, not_after=now() + 30 * DAY
        ),
        CertificateExpiredError,
        "not valid before",
    ),
    "leaf of another cloud": Case(
        lambda: leaf_document(["metadata.azure.us", "usgovvirginia.metadata.azure.us"]),
        SanMismatchError,
        "are not metadata.azure.com",
        {"cloud": "AzurePublicCloud"},
    ),
    "leaf of an unrelated domain": Case(
        lambda: leaf_document(["metadata.azure.com.evil.example", "evilmetadata.azure.com"]),
        SanMismatchError,
        "an Azure metadata domain",
    ),
    "leaf only for code signing": Case(code_signing_leaf, UntrustedChainError, "does not chain"),
    "self-signed leaf": Case(self_signed_leaf, UntrustedChainError, "does not chain"),
    "leaf whose keyUsage lacks digitalSignature": Case(
        lambda: leaf_document(["metadata.azure.com"], key_usage=ENCIPHERMENT_ONLY),
        KeyUsageError,
        "keyUsage (keyEncipherment) does not allow digitalSignature",
    ),
    "nonce mismatch": Case(
        signed_document, NonceMismatchError, "not the nonce of the request", {"nonce": "x" + NONCE}
    ),
    "nonce differs only in case": Case(
        signed_document, NonceMismatchError, "not the nonce", {"nonce": NONCE.swapcase()}
    ),
    "expired document": Case(
        lambda: signed_document(content_for(at=now() - datetime.timedelta(hours=7))),
        DocumentExpiredError,
        "expired at",
    ),
    "createdOn in the future": Case(
        lambda: signed_document(content_for(at=now() + datetime.timedelta(hours=1))),
        DocumentNotYetValidError,
        "in the future",
    ),
    "vmId mismatch": Case(
        signed_document,
        VmIdMismatchError,
        "expected 'aaaaaaaa",
        {"expect_vm_id": "aaaaaaaa-bd52-4150-9748-7190aae1ff21"},
    ),
    "subscriptionId mismatch": Case(
        signed_document,
        SubscriptionMismatchError,
        "expected 'bbbb",
        {"expect_subscription_id": "bbbb"},
    ),
    "subscriptionId absent at api-version 2018-10-01": Case(
        lambda: signed_document(content_for(version="2018-10-01")),
        SubscriptionMismatchError,
        "is None",
        {"expect_subscription_id": VM_INSTANCE["compute"]["subscriptionId"]},
    ),
    "wrong encoding": Case(
        lambda: {"encoding": "base64", "signature": signed_document()["signature"]},
        EncodingError,
        "encoding is 'base64'",
    ),
    "invalid base64": Case(lambda: "MIIB!!notbase64==", EncodingError, "not valid base64"),
    "oversized document": Case(lambda: "A" * (2 * 1024 * 1024), EncodingError, "larger than"),
    "deeply nested JSON response": Case(
        lambda: '{"a":' + "[" * 100_000 + "]" * 100_000 + "}", EncodingError, "not valid JSON"
    ),
    "response without signature": Case(
        lambda: '{"encoding": "pkcs7"}', EncodingError, "no string 'signature'"
    ),
    "truncated DER": Case(
        lambda: as_response(der_of(signed_document())[:-40]), CmsStructureError, "not well-formed"
    ),
    "not SignedData at all": Case(
        lambda: as_response(content_bytes(content_for())), CmsStructureError, "not well-formed"
    ),
    "detached content": Case(detached_content, CmsStructureError, "no embedded content"),
    "content type other than data": Case(other_content_type, CmsStructureError, "not data"),
    "RSA-1024 leaf": Case(
        lambda: leaf_document(["metadata.azure.com"], key_size=1024), WeakKeyError, "1024 bits"
    ),
    "SHA-1 signature": Case(
        lambda: leaf_document(["metadata.azure.com"], hash_algorithm=hashes.SHA1()),
        WeakAlgorithmError,
        "SHA-1",
    ),
    "MD5 signature": Case(
        lambda: leaf_document(["metadata.azure.com"], hash_algorithm=hashes.MD5()),
        WeakAlgorithmError,
        "MD5",
    ),
    "SHA-1 digest OID on a SHA-256 signature": Case(
        weak_digest_oid("1.3.14.3.2.26"), WeakAlgorithmError, "SHA-1"
    ),
    "digest and signature algorithms disagree": Case(
        disagreeing_algorithms, SignatureError, "disagree"
    ),
    "signed content that is not JSON": Case(
        lambda: leaf_document(["metadata.azure.com"], content=b"not json"),
        ContentError,
        "not JSON",
    ),
    "signed JSON with a repeated key": Case(
        with_member(b'"vmId":"evil"'), ContentError, "the key 'vmId' appears twice"
    ),
    "signed JSON with two nonce keys": Case(
        with_member(b'"nonce":"' + NONCE.encode() + b'"'),
        ContentError,
        "the key 'nonce' appears twice",
    ),
    "signed JSON with a key repeated inside timeStamp": Case(
        signed_text(_genuine_json().replace(b'"timeStamp":{', b'"timeStamp":{"createdOn":"x",', 1)),
        ContentError,
        "the key 'createdOn' appears twice",
    ),
    "signed JSON with NaN": Case(with_member(b'"x":NaN'), ContentError, "NaN is not"),
    "signed JSON with Infinity": Case(
        with_member(b'"x":Infinity'), ContentError, "Infinity is not"
    ),
    "signed JSON with -Infinity": Case(
        with_member(b'"x":[-Infinity]'), ContentError, "-Infinity is not"
    ),
    "signed JSON with a number beyond a float": Case(
        with_member(b'"x":1e999'), ContentError, "too large"
    ),
    "response with two signature keys": Case(
        wrapper('{"encoding": "pkcs7", "signature": "{sig}", "signature": "{sig}"}'),
        EncodingError,
        "the key 'signature' appears twice",
    ),
    "response with two encoding keys": Case(
        wrapper('{"encoding": "base64", "encoding": "pkcs7", "signature": "{sig}"}'),
        EncodingError,
        "the key 'encoding' appears twice",
    ),
    "response with NaN": Case(
        wrapper('{"encoding": "pkcs7", "signature": "{sig}", "x": NaN}'),
        EncodingError,
        "NaN is not",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forgery_is_rejected_with_its_reason(name: str) -> None:
    case = CASES[name]
    options = dict(case.options)
    if options.pop("trust", None) == "other-ca-root-only":
        trust = ca_trust(other_ca(), intermediate=False)
    else:
        trust = ca_trust()
    options.setdefault("nonce", NONCE)
    with pytest.raises(case.error) as caught:
        verify(case.build(), trust=trust, **options)
    assert type(caught.value) is case.error, f"{name}: rejected as {caught.value.code}"
    assert case.message in str(caught.value), f"{name}: {caught.value}"


def test_the_matrix_covers_at_least_fifteen_faults_and_every_rejection_code() -> None:
    assert len(CASES) >= 15
    rejections = {case.error for case in CASES.values()}
    from azimds.attest.errors import FetchError, all_errors

    assert rejections == set(all_errors()) - {FetchError}


def test_the_genuine_document_behind_the_matrix_verifies() -> None:
    result = verify(signed_document(), nonce=NONCE, trust=ca_trust())
    assert result.vm_id == VM_INSTANCE["compute"]["vmId"]


def _other_ca_intermediate_only() -> TrustStore:
    return TrustStore([shared_ca().root], [other_ca().intermediate], aia=AiaFetcher(()))


@pytest.mark.parametrize(
    ("build", "trust", "hint"),
    [
        (code_signing_leaf, ca_trust, "The chain reaches the trusted root 'CN=azimds emulator"),
        (self_signed_leaf, ca_trust, "The chain leads to 'CN=metadata.azure.com', which is not"),
        (signed_document, lambda: ca_trust(intermediate=False), "The issuer 'CN=azimds emulator"),
        (
            lambda: signed_document(signer=ca_signer(other_ca())),
            _other_ca_intermediate_only,
            f"The chain leads to the azimds emulator CA 'CN=azimds emulator test root "
            f"{other_ca().label}",
        ),
    ],
)
def test_each_untrusted_chain_says_what_to_do_about_it(
    build: Callable[[], Document], trust: Callable[[], TrustStore], hint: str
) -> None:
    with pytest.raises(UntrustedChainError) as caught:
        verify(build(), nonce=NONCE, trust=trust())
    assert caught.value.hint.startswith(hint), caught.value.hint


def test_a_leaf_without_a_key_usage_extension_is_accepted() -> None:
    # The rule binds only when the extension is there (Azure's leafs carry it).
    document = leaf_document(["metadata.azure.com"], key_usage=None)
    assert verify(document, nonce=NONCE, trust=ca_trust()).vm_id == VM_INSTANCE["compute"]["vmId"]


def test_the_emulator_leaf_allows_digital_signature_as_azures_do() -> None:
    usage = ca_signer().certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature


def test_fields_outside_the_signature_are_ignored() -> None:
    document = dict(signed_document())
    document["vmId"] = "evil"
    document["content"] = '{"vmId": "evil"}'
    result = verify(document, nonce=NONCE, trust=ca_trust())
    assert result.vm_id == VM_INSTANCE["compute"]["vmId"]
    assert "content" not in result.content


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (datetime.timedelta(hours=6, minutes=4), True),  # expired 4 minutes ago: within skew
        (datetime.timedelta(hours=6, minutes=6), False),
        (-datetime.timedelta(minutes=4), True),  # created 4 minutes ahead of us: within skew
        (-datetime.timedelta(minutes=6), False),
    ],
)
def test_clock_skew_allowance_is_five_minutes(age: datetime.timedelta, accepted: bool) -> None:
    moment = now()
    document = signed_document(content_for(at=moment - age))
    if accepted:
        verify(document, nonce=NONCE, trust=ca_trust(), at=moment)
    else:
        with pytest.raises((DocumentExpiredError, DocumentNotYetValidError)):
            verify(document, nonce=NONCE, trust=ca_trust(), at=moment)


_GENUINE = der_of(signed_document())
_GENUINE_CONTENT = content_bytes(content_for())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(0, len(_GENUINE) - 1), mask=st.integers(1, 255))
def test_no_single_byte_change_alters_what_is_accepted(position: int, mask: int) -> None:
    """Any one-byte change is rejected with an AttestError, or (in parts nobody signs, like
    the outer digestAlgorithms set) still yields exactly the content that was signed."""
    forged = bytearray(_GENUINE)
    forged[position] ^= mask
    try:
        result = verify(as_response(bytes(forged)), nonce=None, trust=ca_trust(), at=now())
    except AttestError:
        return
    assert content_bytes(result.content) == content_bytes(
        verify(as_response(_GENUINE), nonce=None, trust=ca_trust(), at=now()).content
    )


def test_a_certificate_version_that_is_neither_v1_nor_v3_is_a_structure_error() -> None:
    # Found by the property test above: cryptography raises InvalidVersion, not ValueError.
    version_v3 = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2, the certificate's version
    position = _GENUINE.index(version_v3) + len(version_v3) - 1
    forged = bytearray(_GENUINE)
    forged[position] = 0x03
    with pytest.raises(CmsStructureError, match="malformed"):
        verify(as_response(bytes(forged)), nonce=None, trust=ca_trust(), at=now())


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_position_flipped_is_rejected_or_changes_nothing_signed(mask: int) -> None:
    """The property above, exhaustively over every byte for two bit masks (deterministic)."""
    expected = content_bytes(
        verify(as_response(_GENUINE), nonce=None, trust=ca_trust(), at=now()).content
    )
    for position in range(len(_GENUINE)):
        forged = bytearray(_GENUINE)
        forged[position] ^= mask
        try:
            result = verify(as_response(bytes(forged)), nonce=None, trust=ca_trust(), at=now())
        except AttestError:
            continue
        assert content_bytes(result.content) == expected, f"byte {position} ^ {mask:#x}"
