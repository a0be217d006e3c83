"""The round trip through the real emulator: emulator -> fetch -> verify.

The emulator serves ``/metadata/attested/document`` (signed by its own test CA), its root as
PEM at ``ROOT_PEM_PATH`` and its intermediate as DER at ``INTERMEDIATE_DER_PATH``
(``/azimds/attested/intermediate.crt``), the URL its leafs name in their AIA extension.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Tuple
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from azimds.attest import (
    AiaFetcher,
    TrustStore,
    UntrustedChainError,
    _http,
    fetch,
    load_pem_certificates,
    verify,
)
from azimds.attest.aia import ca_issuers_urls
from azimds.emulator import Emulator, default_profile
from azimds.emulator.attested import ROOT_PEM_PATH
from emulator_support import run_documented

PEM = Encoding.PEM


def emulator_root(base_url: str) -> Tuple[x509.Certificate, ...]:
    reply = _http.get(base_url + ROOT_PEM_PATH, headers={}, timeout=5, max_bytes=65536)
    assert reply.status == 200, (
        f"the emulator must serve its root at {ROOT_PEM_PATH} "
        f"(AttestationCA.root_pem()); got {reply.status}"
    )
    return load_pem_certificates(reply.body)


def loopback_aia(base_url: str) -> AiaFetcher:
    return AiaFetcher((urlsplit(base_url).netloc,))


def test_emulator_fetch_verify_with_the_emulator_root_trusted() -> None:
    profile = default_profile()
    with Emulator(profile, rate_limit=False) as emu:
        fetched = fetch(emu.base_url)
        aia = loopback_aia(emu.base_url)
        trust = TrustStore(emulator_root(emu.base_url), aia=aia)
        result = verify(
            fetched.response,
            nonce=fetched.nonce,
            trust=trust,
            cloud="AzurePublicCloud",
            expect_vm_id=profile.vm_id,
            expect_subscription_id=profile.instance["compute"]["subscriptionId"],
        )
    assert result.signer_names == ("metadata.azure.com", "westus.metadata.azure.com")
    assert result.license_type == profile.instance["compute"]["licenseType"]
    # Only the root was trusted: the intermediate came from the leaf's AIA URL, the emulator.
    assert aia.requests == 1
    assert result.chain[1].subject == result.chain[0].issuer


def test_the_same_document_is_rejected_when_the_emulator_root_is_not_trusted() -> None:
    with Emulator(default_profile(), rate_limit=False) as emu:
        fetched = fetch(emu.base_url)
        trust = TrustStore.default(aia=loopback_aia(emu.base_url))
        with pytest.raises(UntrustedChainError):
            verify(fetched.response, nonce=fetched.nonce, trust=trust)


def test_each_emulator_has_its_own_ca() -> None:
    with Emulator(default_profile(), rate_limit=False) as first:
        other_root = emulator_root(first.base_url)
    with Emulator(default_profile(), rate_limit=False) as emu:
        fetched = fetch(emu.base_url)
        with pytest.raises(UntrustedChainError):
            verify(fetched.response, nonce=fetched.nonce, trust=TrustStore(other_root))


def test_the_emulator_signs_the_fields_of_the_requested_version() -> None:
    with Emulator(default_profile(), rate_limit=False) as emu:
        fetched = fetch(emu.base_url, api_version="2019-04-30")
        trust = TrustStore(emulator_root(emu.base_url), aia=loopback_aia(emu.base_url))
        result = verify(fetched.response, nonce=fetched.nonce, trust=trust)
    assert sorted(result.content) == ["nonce", "plan", "subscriptionId", "timeStamp", "vmId"]


# The attested-data request exactly as the 2019 service description writes it; the openssl steps
# below are that description's "validating the signature" steps.
DOCUMENTED_REQUEST = (
    'curl -H Metadata:true "http://169.254.169.254/metadata/attested/document'
    '?api-version=2018-10-01&nonce=1234567890"'
)


@pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("openssl") is None,
    reason="the documented path needs curl and openssl",
)
def test_the_documented_request_and_openssl_steps_accept_the_emulator_document(
    tmp_path: Path,
) -> None:
    with Emulator(default_profile(), rate_limit=False) as emu:
        status, body = run_documented(DOCUMENTED_REQUEST, emu.base_url)
        assert status == 200
        response = json.loads(body)
        signature = tmp_path / "decodedsignature"
        signature.write_bytes(base64.b64decode(response["signature"]))
        signer = tmp_path / "signer.pem"
        openssl("pkcs7", "-in", signature, "-inform", "DER", "-print_certs", "-out", signer)
        (leaf,) = load_pem_certificates(signer)
        (aia_url,) = ca_issuers_urls(leaf)  # the documentation fetches it with wget
        reply = _http.get(aia_url, headers={}, timeout=5, max_bytes=65536)
        intermediate = tmp_path / "intermediate.pem"
        intermediate.write_bytes(x509.load_der_x509_certificate(reply.body).public_bytes(PEM))
        root = tmp_path / "root.pem"
        root.write_bytes(b"".join(c.public_bytes(PEM) for c in emulator_root(emu.base_url)))
        content = openssl("smime", "-verify", "-in", signature, "-inform", "DER", "-noverify")
        chain = openssl("verify", "-CAfile", root, "-untrusted", intermediate, signer)
        trust = TrustStore(load_pem_certificates(root), load_pem_certificates(intermediate))
        result = verify(response, nonce="1234567890", trust=trust)
    assert json.loads(content)["nonce"] == "1234567890"
    assert chain.rstrip().endswith(b": OK")
    assert sorted(result.content) == ["nonce", "plan", "timeStamp", "vmId"]


def openssl(*args: object) -> bytes:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout
