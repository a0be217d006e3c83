"""Shared helpers for the attestation tests: test data, a test CA, forgery tools, loopback HTTP.

Nothing here talks to anything but 127.0.0.1: the loopback server binds there, and every
trust store the tests build is offline or allows only that server.
"""

from __future__ import annotations

import base64
import datetime
import functools
import http.server
import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from azimds.attest import TrustStore, load_pem_certificates
from azimds.emulator.attested import (
    AttestationCA,
    AttestedSigner,
    attested_content,
)

UTC = datetime.timezone.utc
REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / "tests" / "data" / "attested"

PUBLIC_2022 = "public-2022.b64"
USGOV_2023 = "usgov-2023.b64"
DOCS_SAMPLE = "docs-sample-2018.b64"
PUBLIC_2022_AT = datetime.datetime(2022, 4, 19, 2, 0, tzinfo=UTC)
USGOV_2023_AT = datetime.datetime(2023, 3, 8, 18, 0, tzinfo=UTC)
PUBLIC_2022_NONCE = "20220419-072721"
USGOV_2023_NONCE = "20230308-230933"
DOCS_SAMPLE_NONCE = "1234566766"

# The built-in profile's VM as the emulator signs for it.
VM_INSTANCE: Dict[str, Any] = {
    "compute": {
        "azEnvironment": "AzurePublicCloud",
        "location": "westus",
        "licenseType": "",
        "plan": {"name": "", "product": "", "publisher": ""},
        "sku": "22_04-lts-gen2",
        "subscriptionId": "8d10da13-8125-4ba9-a717-bf7490507b3d",
        "vmId": "13f56399-bd52-4150-9748-7190aae1ff21",
    }
}
NONCE = "a1B2c3D4e5"


def real_document(name: str) -> str:
    """Return the base64 signature stored in tests/data/attested/``name``."""
    return (TESTDATA / name).read_text(encoding="ascii").strip()


def sample_certificate(name: str) -> x509.Certificate:
    """Return the single certificate in tests/data/attested/``name``."""
    (certificate,) = load_pem_certificates(TESTDATA / name)
    return certificate


def now() -> datetime.datetime:
    """Return the current UTC time."""
    return datetime.datetime.now(UTC)


@functools.lru_cache(maxsize=None)
def shared_ca() -> AttestationCA:
    """Return one test CA for the whole run (key generation is the slow part)."""
    return AttestationCA()


@functools.lru_cache(maxsize=None)
def other_ca() -> AttestationCA:
    """Return a second, unrelated test CA."""
    return AttestationCA()


def ca_trust(ca: Optional[AttestationCA] = None, *, intermediate: bool = True) -> TrustStore:
    """Return an offline store trusting only ``ca``'s root (and knowing its intermediate)."""
    ca = ca or shared_ca()
    return TrustStore([ca.root], [ca.intermediate] if intermediate else [])


def ca_signer(ca: Optional[AttestationCA] = None, url: Optional[str] = None) -> AttestedSigner:
    """Return ``ca``'s signer for metadata.azure.com / westus.metadata.azure.com."""
    return (ca or shared_ca()).signer("metadata.azure.com", "westus", url)


def content_for(
    nonce: Optional[str] = NONCE,
    at: Optional[datetime.datetime] = None,
    version: str = "2020-09-01",
    instance: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """Return the content the emulator signs for the test VM."""
    return attested_content(instance or VM_INSTANCE, version, nonce, at or now())


def signed_document(
    content: Optional[Mapping[str, Any]] = None, signer: Optional[AttestedSigner] = None
) -> Dict[str, str]:
    """Return an emulator response ``{"encoding", "signature"}`` for ``content``."""
    return (signer or ca_signer()).document(content if content is not None else content_for())


def der_of(document: Union[Mapping[str, str], str]) -> bytes:
    """Return the DER inside a response mapping or a bare base64 signature."""
    text = document["signature"] if isinstance(document, Mapping) else document
    return base64.b64decode(text)


def as_response(der: bytes) -> Dict[str, str]:
    """Return a response mapping carrying ``der``."""
    return {"encoding": "pkcs7", "signature": base64.b64encode(der).decode("ascii")}


def rewrite(der: bytes, change: Callable[[Any], None]) -> bytes:
    """Return ``der`` after ``change`` edits its asn1crypto SignedData in place."""
    info = cms.ContentInfo.load(der)
    signed = info["content"]
    change(signed)
    rebuilt = cms.ContentInfo({"content_type": "signed_data", "content": signed.copy()})
    return bytes(rebuilt.dump(force=True))


def pem(certificate: x509.Certificate) -> bytes:
    """Return ``certificate`` as PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def content_of(document: Mapping[str, str]) -> Dict[str, Any]:
    """Return the JSON embedded in a response (without verifying anything)."""
    info = cms.ContentInfo.load(der_of(document))
    parsed: Dict[str, Any] = json.loads(info["content"]["encap_content_info"]["content"].native)
    return parsed


Route = Callable[["Handler"], Tuple[int, Dict[str, str], bytes]]


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers from the server's routes; records each request."""

    server: LoopbackServer

    def do_GET(self) -> None:
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?", 1)[0]
        route = self.server.routes.get(path, fixed(404, b'{"error": "not found"}'))
        status, headers, body = route(self)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class LoopbackServer(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 (a free port) serving ``routes``, for one test."""

    daemon_threads = True

    def __init__(self, routes: Optional[Dict[str, Route]] = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: Dict[str, Route] = dict(routes or {})
        self.seen: List[Tuple[str, Dict[str, str]]] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def host_port(self) -> str:
        """Return ``127.0.0.1:<port>`` (an AIA allowlist entry)."""
        return f"127.0.0.1:{self.server_address[1]}"

    def paths(self) -> List[str]:
        """Return the paths requested so far (without query strings)."""
        return [path.split("?", 1)[0] for path, _ in self.seen]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def fixed(status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> Route:
    """Return a route that always answers ``status`` with ``body``."""
    return lambda handler: (status, dict(headers or {}), body)


def serve_ca(server: LoopbackServer, ca: AttestationCA, path: str = "/ca/intermediate.crt") -> str:
    """Serve ``ca``'s intermediate (DER) at ``path``; return its URL."""
    server.routes[path] = fixed(
        200, ca.intermediate_der(), {"Content-Type": "application/pkix-cert"}
    )
    return server.base_url + path
