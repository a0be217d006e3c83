"""Attested-document verification: azimds in-process against the documented openssl path.

The documented path (azure-imds-2019.md) is two processes per document:
``openssl smime -verify -noverify`` (the signature math; it also writes out the signer) and
``openssl verify -CAfile ROOT -untrusted INTERMEDIATE signer.pem`` (the chain). azimds does
that and more (SAN, nonce, expiry) in one ``verify()`` call, the trust store built in the
call too. Both run on the same documents in the same run:

- an emulator-signed document with its test chain (trusted), and the same document when its
  root is not trusted, and with one byte of the content flipped;
- the real US Government document of tests/data/attested at its valid time (openssl ``-attime``),
  and at the current time (expired).

Printed: documents per second and time per document for each path, the ratio, and whether the
verdicts agree. Goal: at least 10x faster with the same verdicts.

Run: python bench/bench_attest.py [--calls 300] [--openssl-calls 20]
"""

from __future__ import annotations

import argparse
import base64
import datetime
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from cryptography import x509

from azimds.attest import AttestError, TrustStore, verify
from azimds.emulator.attested import AttestationCA, attested_content
from azimds.emulator.profile import default_profile

GOAL = 10.0
UTC = datetime.timezone.utc
TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "attested"


@dataclass
class Case:
    """One document, how azimds is told to verify it, and the openssl equivalent."""

    name: str
    der: bytes
    nonce: str
    roots: List[x509.Certificate]
    intermediates: List[x509.Certificate]
    at: Optional[datetime.datetime]


def pem(certificates: List[x509.Certificate]) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def azimds_verdict(case: Case) -> Callable[[], bool]:
    text = base64.b64encode(case.der).decode("ascii")

    def call() -> bool:
        trust = TrustStore(case.roots, case.intermediates)  # offline: no AIA
        try:
            verify(text, nonce=case.nonce, trust=trust, at=case.at)
        except AttestError:
            return False
        return True

    return call


def openssl_verdict(case: Case, folder: Path) -> Callable[[], bool]:
    document, signer = folder / f"{case.name}.der", folder / f"{case.name}.signer.pem"
    roots, intermediates = folder / f"{case.name}.roots.pem", folder / f"{case.name}.ca.pem"
    document.write_bytes(case.der)
    roots.write_bytes(pem(case.roots))
    intermediates.write_bytes(pem(case.intermediates))
    smime = ["openssl", "smime", "-verify", "-noverify", "-binary", "-inform", "DER"]
    smime += ["-in", str(document), "-signer", str(signer), "-out", str(folder / "content")]
    chain = ["openssl", "verify", "-CAfile", str(roots), "-untrusted", str(intermediates)]
    if case.at is not None:
        chain += ["-attime", str(int(case.at.timestamp()))]
    chain.append(str(signer))

    def call() -> bool:
        signer.unlink(missing_ok=True)
        if subprocess.run(smime, capture_output=True, check=False).returncode != 0:
            return False
        done = subprocess.run(chain, capture_output=True, check=False)
        return done.returncode == 0 and done.stdout.rstrip().endswith(b": OK")

    return call


def timed(call: Callable[[], bool], calls: int) -> tuple[float, bool]:
    """Return (median seconds per call, the verdict, identical on every call)."""
    verdicts, times = set(), []
    for _ in range(calls):
        started = time.perf_counter()
        verdicts.add(call())
        times.append(time.perf_counter() - started)
    assert len(verdicts) == 1, "a verdict changed between runs"
    return statistics.median(times), verdicts.pop()


def cases() -> List[Case]:
    now = datetime.datetime.now(UTC)
    ca = AttestationCA()
    profile = default_profile()
    signer = ca.signer("metadata.azure.com", "westus", None)
    content = attested_content(profile.instance, "2021-02-01", "bench1234", now)
    der = base64.b64decode(signer.document(content)["signature"])
    flipped = bytearray(der)
    flipped[der.index(b'"vmId":"') + 8] ^= 0x01
    g2 = x509.load_pem_x509_certificate(
        (TESTDATA / "root-digicert-global-root-g2.pem").read_bytes()
    )
    ca05 = x509.load_pem_x509_certificate(
        (TESTDATA / "intermediate-microsoft-azure-tls-issuing-ca-05.pem").read_bytes()
    )
    usgov = base64.b64decode((TESTDATA / "usgov-2023.b64").read_text())
    usgov_at = datetime.datetime(2023, 3, 8, 18, 0, tzinfo=UTC)
    return [
        Case("emulator", der, "bench1234", [ca.root], [ca.intermediate], None),
        Case("emulator-untrusted-root", der, "bench1234", [g2], [ca.intermediate], None),
        Case(
            "emulator-flipped-byte", bytes(flipped), "bench1234", [ca.root], [ca.intermediate], None
        ),
        Case("usgov-2023-at-its-time", usgov, "20230308-230933", [g2], [ca05], usgov_at),
        Case("usgov-2023-today", usgov, "20230308-230933", [g2], [ca05], None),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="azimds calls per document")
    parser.add_argument("--openssl-calls", type=int, default=20, help="openssl runs per document")
    options = parser.parse_args()
    if shutil.which("openssl") is None:
        print("bench_attest: the openssl command is needed for the baseline", file=sys.stderr)
        return 1
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    print(f"azimds verify() vs openssl smime -verify + openssl verify ({version.strip()})")
    print(f"{'document':<26}{'azimds':>22}{'openssl path':>24}{'ratio':>9}  verdicts")
    ratios, agree = [], True
    with tempfile.TemporaryDirectory() as folder:
        for case in cases():
            ours, our_verdict = timed(azimds_verdict(case), options.calls)
            theirs, their_verdict = timed(
                openssl_verdict(case, Path(folder)), options.openssl_calls
            )
            ratio = theirs / ours
            ratios.append(ratio)
            same = our_verdict == their_verdict
            agree &= same
            verdicts = f"{_word(our_verdict)} / {_word(their_verdict)}"
            print(
                f"{case.name:<26}{1 / ours:>9,.0f} docs/s {ours * 1000:>6.2f} ms"
                f"{1 / theirs:>9,.0f} docs/s {theirs * 1000:>7.2f} ms{ratio:>8.0f}x  "
                f"{verdicts} {'(agree)' if same else '(DISAGREE)'}"
            )
    slowest = min(ratios)
    goal = "met" if slowest >= GOAL else "MISSED"
    verdicts = "all agree" if agree else "DISAGREE"
    print(f"\nslowest ratio {slowest:.0f}x (goal >= {GOAL:.0f}x): {goal}; verdicts {verdicts}")
    return 0 if agree and slowest >= GOAL else 1


def _word(verdict: bool) -> str:
    return "verified" if verdict else "rejected"


if __name__ == "__main__":
    sys.exit(main())
