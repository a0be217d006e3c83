"""The emulator's signing side: content by api-version, timestamps, nonces, clouds, the CA,
and documents in exactly the shape of the real ones."""

from __future__ import annotations

import base64
import datetime
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from azimds.attest import (
    CLOUD_DOMAINS,
    NonceError,
    TrustStore,
    UntrustedChainError,
    check_nonce,
    new_nonce,
    verify,
)
from azimds.attest.aia import ca_issuers_urls
from azimds.emulator import default_profile
from azimds.emulator.attested import (
    AttestedRequestError,
    answer,
    attested_content,
    content_bytes,
    signer_for,
)
from test_attest_support import (
    NONCE,
    USGOV_2023,
    UTC,
    VM_INSTANCE,
    ca_signer,
    ca_trust,
    content_for,
    der_of,
    real_document,
    shared_ca,
    signed_document,
)

AT = datetime.datetime(2026, 3, 1, 12, 30, 45, tzinfo=UTC)
TIMESTAMP = re.compile(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d -0000")


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        ("2018-10-01", ["nonce", "plan", "timeStamp", "vmId"]),
        ("2019-03-11", ["nonce", "plan", "timeStamp", "vmId"]),
        ("2019-04-30", ["nonce", "plan", "subscriptionId", "timeStamp", "vmId"]),
        ("2019-08-15", ["nonce", "plan", "subscriptionId", "timeStamp", "vmId"]),
        ("2019-11-01", ["nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"]),
        ("2020-07-15", ["nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"]),
        (
            "2020-09-01",
            ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        ),
        (
            "2025-04-07",
            ["licenseType", "nonce", "plan", "sku", "subscriptionId", "timeStamp", "vmId"],
        ),
    ],
)
def test_content_fields_follow_the_api_version(version: str, fields: List[str]) -> None:
    content = attested_content(VM_INSTANCE, version, NONCE, AT)
    assert sorted(content) == fields


def test_content_values_come_from_the_instance_document() -> None:
    profile = default_profile()
    content = attested_content(profile.instance, "2020-09-01", NONCE, AT)
    compute = profile.instance["compute"]
    assert content["vmId"] == compute["vmId"]
    assert content["subscriptionId"] == compute["subscriptionId"]
    assert content["sku"] == compute["sku"]
    assert content["licenseType"] == compute["licenseType"]
    assert content["plan"] == {"name": "", "product": "", "publisher": ""}
    assert content["nonce"] == NONCE


def test_a_marketplace_plan_is_signed() -> None:
    instance = {
        "compute": dict(
            VM_INSTANCE["compute"], plan={"name": "n", "product": "p", "publisher": "q"}
        )
    }
    content = attested_content(instance, "2018-10-01", NONCE, AT)
    assert content["plan"] == {"name": "n", "product": "p", "publisher": "q"}


def test_timestamps_have_the_real_format_and_six_hours_of_validity() -> None:
    stamp = attested_content(VM_INSTANCE, "2018-10-01", NONCE, AT)["timeStamp"]
    assert stamp == {"createdOn": "03/01/26 12:30:45 -0000", "expiresOn": "03/01/26 18:30:45 -0000"}
    assert TIMESTAMP.fullmatch(stamp["createdOn"])


def test_naive_now_means_utc() -> None:
    naive = attested_content(VM_INSTANCE, "2018-10-01", NONCE, AT.replace(tzinfo=None))
    assert naive == attested_content(VM_INSTANCE, "2018-10-01", NONCE, AT)


@pytest.mark.parametrize("nonce", [None, ""])
def test_without_a_nonce_the_nonce_is_a_timestamp(nonce: Any) -> None:
    content = attested_content(VM_INSTANCE, "2018-10-01", nonce, AT)
    assert re.fullmatch(r"\d{8}-\d{6}", content["nonce"])
    # As in the real documents of tests/data/attested, that timestamp is the time of expiresOn.
    assert content["nonce"] == "20260301-183045"


@pytest.mark.parametrize("nonce", ["1234567890", "a", "Z" * 32, "AbC123xyz", "0000000000"])
def test_valid_nonces_are_signed_as_given(nonce: str) -> None:
    assert attested_content(VM_INSTANCE, "2018-10-01", nonce, AT)["nonce"] == nonce


@pytest.mark.parametrize(
    "nonce", ["a" * 33, "abc-123", "abc 123", "12345\n", "ünïcode", "1234;drop", "%41"]
)
def test_bad_nonces_are_refused_with_the_rule(nonce: str) -> None:
    with pytest.raises(NonceError, match="1 to 32 ASCII letters and digits") as caught:
        attested_content(VM_INSTANCE, "2018-10-01", nonce, AT)
    assert isinstance(caught.value, ValueError)


def test_the_route_answers_400_for_a_bad_nonce_and_200_otherwise() -> None:
    status, body = answer(
        shared_ca(), VM_INSTANCE, "2021-02-01", "bad nonce", now=AT, ca_issuers_url=None
    )
    assert status == 400
    assert body["error"].startswith("Bad request. nonce 'bad nonce' is invalid")
    status, body = answer(
        shared_ca(), VM_INSTANCE, "2021-02-01", NONCE, now=AT, ca_issuers_url=None
    )
    assert status == 200
    assert set(body) == {"encoding", "signature"}
    assert body["encoding"] == "pkcs7"


def test_versions_before_the_attested_endpoint_are_refused() -> None:
    with pytest.raises(AttestedRequestError, match="2018-10-01"):
        attested_content(VM_INSTANCE, "2018-04-02", NONCE, AT)


def test_fresh_nonces_follow_the_rule_and_do_not_repeat() -> None:
    nonces = {new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    for nonce in nonces:
        assert check_nonce(nonce) == nonce
        assert len(nonce) == 32


@pytest.mark.parametrize(
    ("environment", "domain"),
    [
        ("AzurePublicCloud", "metadata.azure.com"),
        ("AzureUSGovernmentCloud", "metadata.azure.us"),
        ("AzureChinaCloud", "metadata.azure.cn"),
        ("AzureGermanCloud", "metadata.microsoftazure.de"),
        ("azureusgovernmentcloud", "metadata.azure.us"),
        ("", "metadata.azure.com"),
    ],
)
def test_the_signer_names_the_clouds_domain_and_region(environment: str, domain: str) -> None:
    instance = {
        "compute": dict(VM_INSTANCE["compute"], azEnvironment=environment, location="EastUS2")
    }
    signer = signer_for(shared_ca(), instance, "http://127.0.0.1:1/aia")
    names = signer.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert names == [domain, f"eastus2.{domain}"]
    assert ca_issuers_urls(signer.certificate) == ["http://127.0.0.1:1/aia"]


def test_every_cloud_of_the_mapping_is_signed_and_verified_as_that_cloud() -> None:
    for environment, domain in CLOUD_DOMAINS.items():
        instance = {"compute": dict(VM_INSTANCE["compute"], azEnvironment=environment)}
        signer = signer_for(shared_ca(), instance, None)
        document = signer.document(
            attested_content(instance, "2020-09-01", NONCE, datetime.datetime.now(UTC))
        )
        result = verify(document, nonce=NONCE, trust=ca_trust(), cloud=environment)
        assert (result.cloud, result.domain) == (environment, domain)


def test_an_unknown_cloud_is_refused() -> None:
    instance = {"compute": dict(VM_INSTANCE["compute"], azEnvironment="AzureMoonCloud")}
    with pytest.raises(AttestedRequestError, match="AzureMoonCloud"):
        signer_for(shared_ca(), instance, None)


def test_leafs_are_cached_per_cloud_and_region() -> None:
    ca = shared_ca()
    assert ca.signer("metadata.azure.com", "westus", None) is ca.signer(
        "metadata.azure.com", "westus", None
    )
    assert ca.signer("metadata.azure.com", "westus", None) is not ca.signer(
        "metadata.azure.com", "eastus", None
    )


def test_the_ca_is_root_intermediate_leaf_of_rsa_2048() -> None:
    ca, signer = shared_ca(), ca_signer()
    assert ca.root.issuer == ca.root.subject
    assert ca.intermediate.issuer == ca.root.subject
    assert signer.certificate.issuer == ca.intermediate.subject
    for certificate in (ca.root, ca.intermediate, signer.certificate):
        key = certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == 2048
    assert ca.intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not signer.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_root_and_intermediate_export_as_pem_and_der() -> None:
    ca = shared_ca()
    assert x509.load_pem_x509_certificate(ca.root_pem()) == ca.root
    assert x509.load_pem_x509_certificate(ca.intermediate_pem()) == ca.intermediate
    assert x509.load_der_x509_certificate(ca.intermediate_der()) == ca.intermediate


def test_nothing_trusts_the_emulator_by_default() -> None:
    assert shared_ca().root not in TrustStore.default(offline=True).roots
    with pytest.raises(UntrustedChainError):
        verify(signed_document(), nonce=NONCE, trust=TrustStore.default(offline=True))


def _shape(der: bytes) -> Dict[str, Any]:
    signed = cms.ContentInfo.load(der)["content"]
    signer = signed["signer_infos"][0]
    return {
        "version": signed["version"].native,
        "digest_algorithms": [d["algorithm"].dotted for d in signed["digest_algorithms"]],
        "digest_parameters": [d["parameters"].dump() for d in signed["digest_algorithms"]],
        "content_type": signed["encap_content_info"]["content_type"].dotted,
        "certificates": len(signed["certificates"]),
        "signers": len(signed["signer_infos"]),
        "signer_version": signer["version"].native,
        "sid": signer["sid"].name,
        "signer_digest": signer["digest_algorithm"]["algorithm"].dotted,
        "signature_algorithm": signer["signature_algorithm"]["algorithm"].dotted,
        "signed_attrs": signer["signed_attrs"].native,
        "unsigned_attrs": signer["unsigned_attrs"].native,
        "crls": signed["crls"].native,
    }


def test_documents_have_exactly_the_shape_of_the_real_ones() -> None:
    emulated = _shape(der_of(signed_document()))
    real = _shape(base64.b64decode(real_document(USGOV_2023)))
    assert emulated == real
    assert emulated["digest_algorithms"] == ["1.2.840.113549.1.1.11"]
    assert emulated["signer_digest"] == "1.2.840.113549.1.1.11"
    assert emulated["signed_attrs"] is None
    assert emulated["certificates"] == 1


def test_the_embedded_content_is_compact_sorted_json_and_the_only_cert_is_the_leaf() -> None:
    content = content_for()
    signed = cms.ContentInfo.load(der_of(signed_document(content)))["content"]
    assert signed["encap_content_info"]["content"].native == content_bytes(content)
    assert content_bytes(content).startswith(b'{"licenseType":"","nonce":"')
    (embedded,) = signed["certificates"]
    assert x509.load_der_x509_certificate(embedded.chosen.dump()) == ca_signer().certificate


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_accepts_the_signature_as_it_accepts_azures(tmp_path: Path) -> None:
    der = tmp_path / "doc.der"
    der.write_bytes(der_of(signed_document()))
    out = subprocess.run(
        ["openssl", "smime", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", str(der)],
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == content_bytes(content_for()) or out.stdout.startswith(b'{"licenseType"')
