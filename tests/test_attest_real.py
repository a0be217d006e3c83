"""Real attested documents (tests/data/attested): they verify at their time, with their chains,
and are rejected today; the documentation sample's math holds but it is never trusted."""

from __future__ import annotations

import datetime
import re

import pytest

from azimds.attest import (
    CertificateExpiredError,
    DocumentExpiredError,
    NonceMismatchError,
    SanMismatchError,
    TrustStore,
    UntrustedChainError,
    WeakKeyError,
    verify,
    verify_chain,
)
from azimds.attest.cms import parse_signed_data, signature_bytes, signer_certificate
from azimds.attest.signature import check_signature
from test_attest_support import (
    DOCS_SAMPLE,
    DOCS_SAMPLE_NONCE,
    PUBLIC_2022,
    PUBLIC_2022_AT,
    PUBLIC_2022_NONCE,
    USGOV_2023,
    USGOV_2023_AT,
    USGOV_2023_NONCE,
    real_document,
    sample_certificate,
)

BALTIMORE = "root-baltimore-cybertrust-root.pem"
G2 = "root-digicert-global-root-g2.pem"
RSA_TLS_CA_01 = "intermediate-microsoft-rsa-tls-ca-01.pem"
AZURE_TLS_CA_05 = "intermediate-microsoft-azure-tls-issuing-ca-05.pem"


def public_2022_trust() -> TrustStore:
    """The chain the README gives: Baltimore (passed explicitly) and Microsoft RSA TLS CA 01."""
    return TrustStore([sample_certificate(BALTIMORE)], [sample_certificate(RSA_TLS_CA_01)])


def usgov_2023_trust() -> TrustStore:
    """The chain the README gives: DigiCert Global Root G2 and Azure TLS Issuing CA 05."""
    return TrustStore([sample_certificate(G2)], [sample_certificate(AZURE_TLS_CA_05)])


def test_public_2022_verifies_at_its_time_with_its_chain() -> None:
    result = verify(
        real_document(PUBLIC_2022),
        nonce=PUBLIC_2022_NONCE,
        trust=public_2022_trust(),
        at=PUBLIC_2022_AT,
        expect_vm_id="bd8e7443-24a0-41f3-b949-8baf4fd1c573",
        expect_subscription_id="5f130ffc-0a3e-4795-b691-4f56a12a5547",
    )
    assert result.cloud == "AzurePublicCloud"
    assert result.domain == "metadata.azure.com"
    assert result.sku == "20_04-lts-gen2"
    assert result.signer_names == ("metadata.azure.com", "southcentralus.metadata.azure.com")
    assert [c.subject.rfc4514_string() for c in result.chain] == [
        "CN=metadata.azure.com",
        "CN=Microsoft RSA TLS CA 01,O=Microsoft Corporation,C=US",
        "CN=Baltimore CyberTrust Root,OU=CyberTrust,O=Baltimore,C=IE",
    ]
    assert result.created_on == datetime.datetime(
        2022, 4, 19, 1, 27, 21, tzinfo=datetime.timezone.utc
    )
    assert result.expires_on == datetime.datetime(
        2022, 4, 19, 7, 27, 21, tzinfo=datetime.timezone.utc
    )
    assert result.signed_attributes is False


def test_usgov_2023_verifies_at_its_time_with_its_chain() -> None:
    result = verify(
        real_document(USGOV_2023),
        nonce=USGOV_2023_NONCE,
        trust=usgov_2023_trust(),
        at=USGOV_2023_AT,
        cloud="AzureUSGovernmentCloud",
        expect_vm_id="990878d4-068a-4ac4-9ee9-1231d2218ef2",
    )
    assert result.cloud == "AzureUSGovernmentCloud"
    assert result.vm_id == "990878d4-068a-4ac4-9ee9-1231d2218ef2"
    assert result.subscription_id == "0afbfffa-5df9-4a3b-987e-fe7577624272"
    assert result.sku == "18.04-LTS"
    assert result.license_type == ""
    assert result.chain_subjects()[-1].startswith("CN=DigiCert Global Root G2")


def test_usgov_2023_verifies_with_the_bundled_offline_store() -> None:
    result = verify(
        real_document(USGOV_2023),
        nonce=USGOV_2023_NONCE,
        trust=TrustStore.default(offline=True),
        at=USGOV_2023_AT,
    )
    assert "Microsoft Azure TLS Issuing CA 05" in result.chain_subjects()[1]


@pytest.mark.parametrize(
    ("name", "nonce", "trust"),
    [
        (PUBLIC_2022, PUBLIC_2022_NONCE, public_2022_trust),
        (USGOV_2023, USGOV_2023_NONCE, usgov_2023_trust),
    ],
)
def test_real_documents_are_rejected_today_as_expired(name: str, nonce: str, trust: type) -> None:
    with pytest.raises(CertificateExpiredError, match="expired on") as caught:
        verify(real_document(name), nonce=nonce, trust=trust())
    assert caught.value.code == "certificate-expired"
    assert caught.value.exit_code == 21


def test_a_real_document_past_its_expires_on_is_rejected_as_expired() -> None:
    # The leaf is still valid at 01:00 the next day; the document (6 hours) is not.
    later = datetime.datetime(2023, 3, 9, 1, 0, tzinfo=datetime.timezone.utc)
    with pytest.raises(DocumentExpiredError, match="expired at 2023-03-08T23:09:33"):
        verify(
            real_document(USGOV_2023), nonce=USGOV_2023_NONCE, trust=usgov_2023_trust(), at=later
        )


def test_public_2022_is_untrusted_without_baltimore_even_at_its_time() -> None:
    with pytest.raises(UntrustedChainError, match="Microsoft RSA TLS CA 01"):
        verify(
            real_document(PUBLIC_2022),
            nonce=PUBLIC_2022_NONCE,
            trust=TrustStore.default(offline=True),
            at=PUBLIC_2022_AT,
        )


def test_a_real_document_of_another_cloud_is_rejected() -> None:
    with pytest.raises(SanMismatchError, match=re.escape("metadata.azure.com")):
        verify(
            real_document(USGOV_2023),
            nonce=USGOV_2023_NONCE,
            trust=usgov_2023_trust(),
            at=USGOV_2023_AT,
            cloud="AzurePublicCloud",
        )


def test_a_real_document_with_another_nonce_is_rejected() -> None:
    with pytest.raises(NonceMismatchError):
        verify(
            real_document(USGOV_2023),
            nonce="20230308-230934",
            trust=usgov_2023_trust(),
            at=USGOV_2023_AT,
        )


def test_the_docs_sample_signature_checks_out() -> None:
    signed = parse_signed_data(signature_bytes(real_document(DOCS_SAMPLE)))
    (signer,) = signed.signers
    leaf = signer_certificate(signed, signer)
    check_signature(signed.content, signer, leaf)  # raises if the math were wrong
    assert b'"nonce":"1234566766"' in signed.content
    assert leaf.subject.rfc4514_string() == "CN=testsubdomain.metadata.azure.com"


def test_the_docs_sample_is_rejected() -> None:
    # The first failing step is the 1024-bit key; its chain is untrusted as well (next test).
    with pytest.raises(WeakKeyError, match="1024 bits"):
        verify(
            real_document(DOCS_SAMPLE),
            nonce=DOCS_SAMPLE_NONCE,
            trust=TrustStore.default(offline=True),
            at=datetime.datetime(2018, 11, 20, 22, 8, tzinfo=datetime.timezone.utc),
        )


@pytest.mark.parametrize(
    "at",
    [
        datetime.datetime(2018, 11, 20, 22, 8, tzinfo=datetime.timezone.utc),  # its own time
        None,  # today: its certificate has expired too, but untrusted is the reason
    ],
)
def test_the_docs_sample_chain_is_untrusted(at: datetime.datetime) -> None:
    signed = parse_signed_data(signature_bytes(real_document(DOCS_SAMPLE)))
    leaf = signer_certificate(signed, signed.signers[0])
    when = at or datetime.datetime.now(datetime.timezone.utc)
    with pytest.raises(UntrustedChainError, match=re.escape("testsubdomain.metadata.azure.com")):
        verify_chain(TrustStore.default(offline=True), leaf, [], when)


@pytest.mark.parametrize("name", [PUBLIC_2022, USGOV_2023])
def test_azures_signer_certificates_carry_key_usage_with_digital_signature(name: str) -> None:
    from cryptography import x509

    signed = parse_signed_data(signature_bytes(real_document(name)))
    leaf = signer_certificate(signed, signed.signers[0])
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.value.digital_signature
