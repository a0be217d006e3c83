"""Standard CMS with signed attributes (as cryptography's PKCS7SignatureBuilder makes it):
the messageDigest must match the content and the signature covers the DER SET of attributes."""

from __future__ import annotations

import base64
from typing import Any, Dict

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from azimds.attest import SignatureError, verify
from azimds.emulator.attested import content_bytes
from test_attest_support import (
    NONCE,
    as_response,
    ca_signer,
    ca_trust,
    content_for,
    der_of,
    rewrite,
)


def standard_document(content: bytes, algorithm: Any = None) -> Dict[str, str]:
    signer = ca_signer()
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(signer.certificate, signer.key, algorithm or hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    return {"encoding": "pkcs7", "signature": base64.b64encode(der).decode("ascii")}


def signer_info(document: Dict[str, str]) -> Any:
    return cms.ContentInfo.load(der_of(document))["content"]["signer_infos"][0]


def test_the_builder_really_makes_signed_attributes() -> None:
    info = signer_info(standard_document(content_bytes(content_for())))
    types = {attribute["type"].native for attribute in info["signed_attrs"]}
    assert {"content_type", "message_digest"} <= types


@pytest.mark.parametrize("algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_standard_cms_with_signed_attributes_verifies(algorithm: Any) -> None:
    content = content_for()
    result = verify(
        standard_document(content_bytes(content), algorithm), nonce=NONCE, trust=ca_trust()
    )
    assert result.signed_attributes is True
    assert dict(result.content) == content


def test_content_swapped_under_signed_attributes_fails_the_message_digest() -> None:
    document = standard_document(content_bytes(content_for()))
    forged = dict(content_for(), vmId="00000000-0000-0000-0000-000000000000")

    def swap(signed: Any) -> None:
        signed["encap_content_info"] = {"content_type": "data", "content": content_bytes(forged)}

    with pytest.raises(SignatureError, match="messageDigest does not match"):
        verify(as_response(rewrite(der_of(document), swap)), nonce=NONCE, trust=ca_trust())


def test_altered_signed_attributes_fail_the_signature() -> None:
    document = standard_document(content_bytes(content_for()))

    def alter(signed: Any) -> None:
        info = signed["signer_infos"][0]
        attributes = [a for a in info["signed_attrs"] if a["type"].native != "signing_time"]
        info["signed_attrs"] = cms.CMSAttributes(attributes)
        signed["signer_infos"] = cms.SignerInfos([info.copy()])

    with pytest.raises(SignatureError, match="signed attributes"):
        verify(as_response(rewrite(der_of(document), alter)), nonce=NONCE, trust=ca_trust())


def test_signed_attributes_without_message_digest_are_rejected() -> None:
    document = standard_document(content_bytes(content_for()))

    def drop(signed: Any) -> None:
        info = signed["signer_infos"][0]
        attributes = [a for a in info["signed_attrs"] if a["type"].native != "message_digest"]
        info["signed_attrs"] = cms.CMSAttributes(attributes)
        signed["signer_infos"] = cms.SignerInfos([info.copy()])

    with pytest.raises(SignatureError, match="no messageDigest"):
        verify(as_response(rewrite(der_of(document), drop)), nonce=NONCE, trust=ca_trust())
