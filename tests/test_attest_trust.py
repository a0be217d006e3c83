"""The trust store: bundled roots and intermediates, added roots, offline mode, and fetching a
missing intermediate from its AIA URL (only from the allowlist; here a loopback server)."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Dict, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from azimds.attest import (
    AiaFetcher,
    CertificateExpiredError,
    TrustStore,
    TrustStoreError,
    UntrustedChainError,
    load_pem_certificates,
    verify,
    verify_chain,
)
from azimds.attest.aia import (
    DEFAULT_AIA_HOSTS,
    AiaError,
    AiaNotAllowed,
    allowlist_entry,
    load_certificates,
)
from azimds.attest.trust import bundled_intermediates, bundled_roots
from azimds.emulator.attested import AttestationCA, issue_leaf
from test_attest_support import (
    NONCE,
    USGOV_2023,
    USGOV_2023_AT,
    USGOV_2023_NONCE,
    LoopbackServer,
    Route,
    content_for,
    fixed,
    now,
    other_ca,
    pem,
    real_document,
    serve_ca,
    shared_ca,
)

DAY = datetime.timedelta(days=1)

ROOT_FINGERPRINTS = {
    "DigiCert Global Root G2": "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
    "DigiCert Global Root CA": "4348a0e9444c78cb265e058d5e8944b4d84f9662bd26db257f8934a443c70161",
    "Microsoft TLS RSA Root G2": "6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5",
}


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_the_bundled_roots_are_the_three_public_roots_azure_chains_to() -> None:
    found = {common_name(c): c.fingerprint(hashes.SHA256()).hex() for c in bundled_roots()}
    assert found == ROOT_FINGERPRINTS
    assert all(c.issuer == c.subject for c in bundled_roots())


def test_baltimore_is_not_a_default_root() -> None:
    names = {common_name(c) for c in TrustStore.default(offline=True).roots}
    assert "Baltimore CyberTrust Root" not in names


def test_the_bundled_intermediates_include_the_test_data_chains_and_the_2026_hierarchy() -> None:
    names = [common_name(c) for c in bundled_intermediates()]
    assert "Microsoft Azure TLS Issuing CA 05" in names
    assert "Microsoft RSA TLS CA 01" in names
    assert "Microsoft TLS G2 RSA CA OCSP 02" in names
    assert "Microsoft TLS G2 RSA CA OCSP 04" in names
    # Microsoft TLS RSA Root G2 cross-signed by DigiCert Global Root G2:
    assert any(
        common_name(c) == "Microsoft TLS RSA Root G2" and "DigiCert" in c.issuer.rfc4514_string()
        for c in bundled_intermediates()
    )


def test_the_cross_signed_2026_root_chains_to_digicert_global_root_g2() -> None:
    (cross,) = [
        c
        for c in bundled_intermediates()
        if common_name(c) == "Microsoft TLS RSA Root G2" and "DigiCert" in c.issuer.rfc4514_string()
    ]
    (g2,) = [c for c in bundled_roots() if common_name(c) == "DigiCert Global Root G2"]
    cross.verify_directly_issued_by(g2)


def test_a_store_needs_a_root() -> None:
    with pytest.raises(TrustStoreError, match="at least one root"):
        TrustStore([])


def test_with_roots_adds_trust_without_changing_the_original() -> None:
    base = TrustStore.default(offline=True)
    extended = base.with_roots(shared_ca().root)
    assert shared_ca().root in extended.roots
    assert shared_ca().root not in base.roots
    assert extended.offline


def test_load_pem_certificates_reads_files_and_explains_failures(tmp_path: Path) -> None:
    path = tmp_path / "root.pem"
    path.write_bytes(shared_ca().root_pem())
    assert load_pem_certificates(path) == (shared_ca().root,)
    with pytest.raises(TrustStoreError, match="cannot read"):
        load_pem_certificates(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(TrustStoreError, match="holds no PEM certificate"):
        load_pem_certificates(tmp_path / "junk.pem")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://www.microsoft.com/pkiops/certs/x.crt", True),
        ("http://caissuers.microsoft.com/pkiops/certs/x.crt", True),
        ("http://cacerts.digicert.com/DigiCertGlobalRootG2.crt", True),
        ("http://crl3.microsoft.com/pki/x.crt", True),
        ("http://crl.microsoft.com/pki/x.crt", True),
        ("http://WWW.MICROSOFT.COM/x.crt", True),
        ("http://www.microsoft.com:80/x.crt", True),
        ("http://www.microsoft.com:8080/x.crt", False),
        ("https://www.microsoft.com/x.crt", False),
        ("ftp://www.microsoft.com/x.crt", False),
        ("file:///etc/passwd", False),
        ("http://www.microsoft.com.evil.example/x.crt", False),
        ("http://evil.example/www.microsoft.com", False),
        ("http://user@evil.example/x.crt", False),
        ("http://127.0.0.1/x.crt", False),
        ("http://169.254.169.254/metadata", False),
        ("http://[::1]/x.crt", False),
        ("not a url", False),
    ],
)
def test_the_default_allowlist_holds_only_microsoft_and_digicert_over_http(
    url: str, allowed: bool
) -> None:
    assert AiaFetcher().allows(url) is allowed


def test_the_allowlist_can_be_extended_for_one_host_and_port() -> None:
    fetcher = AiaFetcher().with_hosts("127.0.0.1:8123")
    assert fetcher.allows("http://127.0.0.1:8123/x.crt")
    assert not fetcher.allows("http://127.0.0.1:8124/x.crt")
    assert not fetcher.allows("http://127.0.0.1/x.crt")
    assert fetcher.allowed_hosts == (*DEFAULT_AIA_HOSTS, "127.0.0.1:8123")


@pytest.mark.parametrize(
    ("url", "entry"),
    [
        ("http://127.0.0.1:8169", "127.0.0.1:8169"),
        ("http://127.0.0.1:8169/", "127.0.0.1:8169"),
        ("http://LOCALHOST:8169/x.crt", "localhost:8169"),
        ("http://169.254.169.254", "169.254.169.254"),
        ("http://169.254.169.254:80", "169.254.169.254"),
        ("http://[::1]:8169", "[::1]:8169"),
        ("http://[not-v6]:8169", ""),
        ("http://exa mple:1", ""),
        ("http://host:99999", ""),
    ],
)
def test_the_allowlist_entry_of_an_endpoint(url: str, entry: str) -> None:
    assert allowlist_entry(url) == entry


def test_an_ipv6_entry_matches_only_its_own_address() -> None:
    fetcher = AiaFetcher().with_hosts("[::1]:8169")
    assert fetcher.allows("http://[::1]:8169/x.crt")
    assert not fetcher.allows("http://[::1]:8170/x.crt")
    assert not fetcher.allows("http://1:8169/x.crt")  # brackets are not a character class here


def test_a_refused_url_names_the_entry_that_would_allow_it() -> None:
    with pytest.raises(AiaNotAllowed) as caught:
        AiaFetcher().fetch("http://127.0.0.1:8123/ca.crt")
    assert caught.value.host == "127.0.0.1:8123"
    assert caught.value.url == "http://127.0.0.1:8123/ca.crt"


def _leaf_with_aia(ca: AttestationCA, url: str) -> x509.Certificate:
    return ca.signer("metadata.azure.com", "westus", url).certificate


def test_a_missing_intermediate_is_fetched_from_the_aia_url_once() -> None:
    ca = other_ca()
    with LoopbackServer() as server:
        url = serve_ca(server, ca)
        fetcher = AiaFetcher((server.host_port,))
        trust = TrustStore([ca.root], aia=fetcher)
        document = ca.signer("metadata.azure.com", "westus", url).document(content_for())
        result = verify(document, nonce=NONCE, trust=trust)
        assert result.chain[1] == ca.intermediate
        verify(document, nonce=NONCE, trust=trust)
        assert server.paths() == ["/ca/intermediate.crt"]  # the second time from the cache
        assert server.seen[0][1].get("metadata") is None
        assert fetcher.requests == 1


def test_an_offline_store_never_fetches() -> None:
    ca = other_ca()
    with LoopbackServer() as server:
        url = serve_ca(server, ca)
        with pytest.raises(UntrustedChainError, match="offline"):
            verify_chain(TrustStore([ca.root]), _leaf_with_aia(ca, url), [], now())
        assert server.seen == []


def test_the_default_allowlist_refuses_loopback_aia_urls_without_a_request() -> None:
    ca = other_ca()
    with LoopbackServer() as server:
        url = serve_ca(server, ca)
        trust = TrustStore([ca.root], aia=AiaFetcher())
        with pytest.raises(UntrustedChainError, match="not an allowed AIA URL"):
            verify_chain(trust, _leaf_with_aia(ca, url), [], now())
        assert server.seen == []


def test_a_fetched_certificate_that_does_not_chain_to_a_trusted_root_is_not_trusted() -> None:
    ca, stranger = other_ca(), shared_ca()
    with LoopbackServer() as server:
        url = serve_ca(server, ca)
        trust = TrustStore([stranger.root], aia=AiaFetcher((server.host_port,)))
        with pytest.raises(UntrustedChainError, match="does not chain"):
            verify_chain(trust, _leaf_with_aia(ca, url), [], now())
        assert server.paths() == ["/ca/intermediate.crt"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (fixed(200, b"x" * (70 * 1024)), "larger than"),
        (fixed(404, b"gone"), "answered 404"),
        (fixed(200, b"this is not a certificate"), "did not return a certificate"),
        (fixed(302, b"", {"Location": "http://www.microsoft.com/x.crt"}), "redirects are refused"),
    ],
)
def test_bad_aia_answers_are_refused(route: Route, message: str) -> None:
    with LoopbackServer({"/aia": route}) as server:
        fetcher = AiaFetcher((server.host_port,))
        with pytest.raises(AiaError, match=message):
            fetcher.fetch(server.base_url + "/aia")
        assert server.paths() == ["/aia"]


def test_aia_fetching_times_out() -> None:
    answer = threading.Event()

    def stalled(handler: object) -> Tuple[int, Dict[str, str], bytes]:
        answer.wait(10)  # held until the client has given up
        return 200, {}, b""

    with LoopbackServer({"/aia": stalled}) as server:
        fetcher = AiaFetcher((server.host_port,), timeout=0.2)
        # Without the timeout the fetch would wait for the answer and fail differently.
        with pytest.raises(AiaError, match="timed out"):
            fetcher.fetch(server.base_url + "/aia")
        answer.set()


def test_a_failed_aia_url_is_not_asked_again_for_a_while() -> None:
    clock = [100.0]
    with LoopbackServer({"/aia": fixed(500, b"no")}) as server:
        fetcher = AiaFetcher((server.host_port,), failure_ttl=60, clock=lambda: clock[0])
        for _ in range(3):
            with pytest.raises(AiaError, match="answered 500"):
                fetcher.fetch(server.base_url + "/aia")
        assert server.paths() == ["/aia"]
        clock[0] += 61
        with pytest.raises(AiaError):
            fetcher.fetch(server.base_url + "/aia")
        assert server.paths() == ["/aia", "/aia"]


def test_aia_answers_may_be_der_pem_or_pkcs7() -> None:
    ca = shared_ca()
    assert load_certificates(ca.intermediate_der()) == (ca.intermediate,)
    assert load_certificates(ca.intermediate_pem() + ca.root_pem()) == (ca.intermediate, ca.root)
    assert load_certificates(b"junk") == ()


def test_a_real_document_with_bundled_intermediates_never_touches_the_network() -> None:
    class Refusing(AiaFetcher):
        def fetch(self, url: str) -> Tuple[x509.Certificate, ...]:
            raise AssertionError(f"unexpected fetch of {url}")

    trust = TrustStore.default(aia=Refusing())
    result = verify(
        real_document(USGOV_2023), nonce=USGOV_2023_NONCE, trust=trust, at=USGOV_2023_AT
    )
    assert result.cloud == "AzureUSGovernmentCloud"


def test_an_expired_leaf_is_not_worth_fetching_for() -> None:
    class Refusing(AiaFetcher):
        def fetch(self, url: str) -> Tuple[x509.Certificate, ...]:
            raise AssertionError(f"unexpected fetch of {url}")

    trust = TrustStore.default(aia=Refusing())
    with pytest.raises(CertificateExpiredError, match="expired on"):
        verify(real_document(USGOV_2023), nonce=USGOV_2023_NONCE, trust=trust)


def _chain_2026_style() -> Tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    """A hierarchy like Microsoft TLS RSA Root G2's: serverAuth-only EKU on CA and leaf."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = now() - DAY, now() + 30 * DAY

    def ca_cert(
        name: str,
        key: rsa.RSAPrivateKey,
        issuer: x509.Name,
        signer: rsa.RSAPrivateKey,
        eku: bool,
        ski_of: rsa.RSAPrivateKey,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ski_of.public_key()), False
            )
        )
        if eku:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        return builder.sign(signer, hashes.SHA384())

    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TLS RSA Root G2")])
    root = ca_cert("Test TLS RSA Root G2", root_key, root_name, root_key, False, root_key)
    inter = ca_cert("Test G2 RSA CA OCSP 02", inter_key, root.subject, root_key, True, root_key)
    return root, inter, inter_key


def test_a_server_auth_only_hierarchy_like_the_2026_one_is_accepted() -> None:
    root, inter, inter_key = _chain_2026_style()
    leaf = issue_leaf(
        inter,
        inter_key,
        ["metadata.azure.com"],
        not_before=now() - DAY,
        not_after=now() + DAY,
        extended_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    # The stock client profile wants clientAuth and would refuse this chain ...
    stock = PolicyBuilder().store(Store([root])).time(now()).build_client_verifier()
    with pytest.raises(VerificationError):
        stock.verify(leaf, [inter])
    # ... the attestation profile accepts serverAuth (what Azure's 2026 leafs carry).
    chain = verify_chain(TrustStore([root], [inter]), leaf, [], now())
    assert chain == (leaf, inter, root)


def test_the_pem_helper_round_trips() -> None:
    assert load_pem_certificates(pem(shared_ca().root)) == (shared_ca().root,)
