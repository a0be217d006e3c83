"""Fetching a document (fresh nonce, Metadata header, no proxy, no redirect) and the round trip
signer -> HTTP -> fetch -> verify, over a loopback server that answers as the emulator route."""

from __future__ import annotations

import datetime
import json
import re
import urllib.parse
from typing import Dict, Iterator, Tuple

import pytest

from azimds.attest import (
    AiaFetcher,
    FetchError,
    NonceError,
    TrustStore,
    UntrustedChainError,
    fetch,
    verify,
)
from azimds.attest.fetcher import ATTESTED_PATH
from azimds.emulator.attested import INTERMEDIATE_DER_PATH, AttestationCA, answer
from azimds.imds import versions
from test_attest_support import (
    VM_INSTANCE,
    Handler,
    LoopbackServer,
    fixed,
    other_ca,
)


def attested_route(ca: AttestationCA, server: LoopbackServer) -> None:
    """Serve the attested document and the intermediate as the emulator does."""

    def document(handler: Handler) -> Tuple[int, Dict[str, str], bytes]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        status, body = answer(
            ca,
            VM_INSTANCE,
            query["api-version"][0],
            query.get("nonce", [None])[0],
            now=datetime.datetime.now(datetime.timezone.utc),
            ca_issuers_url=server.base_url + INTERMEDIATE_DER_PATH,
        )
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    server.routes[ATTESTED_PATH] = document
    server.routes[INTERMEDIATE_DER_PATH] = fixed(200, ca.intermediate_der())


@pytest.fixture
def imds_stub() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        attested_route(other_ca(), server)
        yield server


def test_each_fetch_sends_a_fresh_unpredictable_nonce_and_the_metadata_header(
    imds_stub: LoopbackServer,
) -> None:
    first, second = fetch(imds_stub.base_url), fetch(imds_stub.base_url)
    assert first.nonce != second.nonce
    assert len(first.nonce) == 32 and first.nonce.isalnum()
    for (path, headers), fetched in zip(imds_stub.seen, (first, second)):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        assert query["nonce"] == [fetched.nonce]
        assert query["api-version"] == [versions.NEWEST]  # negotiated from the newest
        assert headers["metadata"] == "true"
    assert first.response["encoding"] == "pkcs7"


def test_the_api_version_falls_back_to_what_the_vm_offers() -> None:
    from azimds.emulator import Emulator, profile_from_mapping

    profile = profile_from_mapping({"api_versions": {"newest": "2019-06-04"}})
    with Emulator(profile, rate_limit=False) as emu:
        fetched = fetch(emu.base_url)
        assert "api-version=2019-06-04" in fetched.url
        asked = [r.query["api-version"][0] for r in emu.requests]
        assert asked == [versions.NEWEST, "2019-06-04"]


def test_a_given_nonce_is_sent_as_is(imds_stub: LoopbackServer) -> None:
    fetched = fetch(imds_stub.base_url, nonce="1234567890", api_version="2019-11-01")
    assert fetched.nonce == "1234567890"
    assert "nonce=1234567890" in imds_stub.seen[0][0]
    assert "api-version=2019-11-01" in imds_stub.seen[0][0]


def test_a_bad_nonce_is_refused_before_any_request(imds_stub: LoopbackServer) -> None:
    with pytest.raises(NonceError):
        fetch(imds_stub.base_url, nonce="no spaces")
    assert imds_stub.seen == []


def test_the_round_trip_verifies_with_the_emulator_root_trusted(imds_stub: LoopbackServer) -> None:
    fetched = fetch(imds_stub.base_url)
    # Only the root is trusted: the intermediate comes from the leaf's AIA URL (loopback).
    trust = TrustStore([other_ca().root], aia=AiaFetcher((imds_stub.host_port,)))
    result = verify(fetched.response, nonce=fetched.nonce, trust=trust, cloud="AzurePublicCloud")
    assert result.vm_id == VM_INSTANCE["compute"]["vmId"]
    assert result.signer_names == ("metadata.azure.com", "westus.metadata.azure.com")
    assert INTERMEDIATE_DER_PATH in imds_stub.paths()


def test_the_same_document_is_rejected_when_the_emulator_root_is_not_trusted(
    imds_stub: LoopbackServer,
) -> None:
    fetched = fetch(imds_stub.base_url)
    trust = TrustStore.default(aia=AiaFetcher((imds_stub.host_port,)))
    with pytest.raises(UntrustedChainError):
        verify(fetched.response, nonce=fetched.nonce, trust=trust)


def test_environment_proxies_are_ignored(
    imds_stub: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: nothing listens
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert fetch(imds_stub.base_url).response["encoding"] == "pkcs7"


def test_redirects_are_not_followed() -> None:
    with LoopbackServer() as target, LoopbackServer() as server:
        server.routes[ATTESTED_PATH] = fixed(302, b"", {"Location": target.base_url + "/x"})
        with pytest.raises(FetchError, match="never follows redirects"):
            fetch(server.base_url)
        assert target.seen == []


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, b'{"error": "Bad request. api-version is invalid"}', "api-version is invalid"),
        (500, b"", "HTTP 500"),
        (200, b"<html>", "not valid JSON"),
        (200, b'{"encoding": "pkcs7"}', "without string 'encoding' and 'signature'"),
    ],
)
def test_failures_say_what_the_server_answered(status: int, body: bytes, message: str) -> None:
    route = {ATTESTED_PATH: fixed(status, body)}
    with LoopbackServer(route) as server, pytest.raises(FetchError, match=re.escape(message)):
        fetch(server.base_url, timeout=1.5)  # a 500 is retried until this deadline


def test_a_maintenance_window_is_ridden_out_like_every_imds_call() -> None:
    from azimds.emulator import Emulator

    with Emulator(rate_limit=False) as emu:
        emu.add_fault({"kind": "status", "status": 410, "times": 2})
        fetched = fetch(emu.base_url, timeout=20)
        assert fetched.response["encoding"] == "pkcs7"
        statuses = [r.status for r in emu.requests if r.path == ATTESTED_PATH]
        assert statuses == [410, 410, 200]


def test_an_endpoint_that_is_not_http_is_refused() -> None:
    with pytest.raises(FetchError, match="not of the form http://HOST"):
        fetch("file:///etc/passwd")


def test_a_closed_port_fails_fast_with_a_fetch_error() -> None:
    with LoopbackServer() as server:
        url = server.base_url
    with pytest.raises(FetchError, match="failed"):
        fetch(url, timeout=2)
