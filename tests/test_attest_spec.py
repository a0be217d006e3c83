"""The facts of an attested document live in one module, which signer and verifier share."""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path
from typing import List

import pytest

from azimds.attest import spec
from test_attest_support import REPO, UTC

SOURCE = REPO / "src" / "azimds"
# The modules that write or read attested documents: the verifier and the emulator's signer.
SIDES = [*sorted((SOURCE / "attest").glob("*.py")), SOURCE / "emulator" / "attested.py"]


def _code(path: Path) -> str:
    """Return the code of ``path`` without its comments and docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            body[0] = ast.Pass()  # type: ignore[index]  # a docstring (or a bare constant)
    return ast.unparse(tree)


def _holding(pattern: str) -> List[str]:
    """Return the source files of either side whose code contains ``pattern`` (a regex)."""
    return [str(path.relative_to(SOURCE)) for path in SIDES if re.search(pattern, _code(path))]


@pytest.mark.parametrize(
    "fact",
    [
        *[re.escape(domain) for domain in spec.CLOUD_DOMAINS.values()],
        *[re.escape(oid) for oid in spec.RSA_WITH_HASH_OIDS.values()],
        re.escape(spec.OID_DATA),
        re.escape(spec.OID_SIGNED_DATA),
        re.escape(spec.OID_RSA_ENCRYPTION),
        re.escape(spec.TIME_FORMAT),
        re.escape(spec.NO_NONCE_FORMAT),
        r"hours=6\b",
        r"A-Za-z0-9\]",  # the nonce rule's character class
        r"tzinfo is None",  # naive means UTC: the one utc() helper
    ],
)
def test_each_fact_is_written_once(fact: str) -> None:
    assert _holding(fact) == ["attest/spec.py"]


def test_both_sides_import_the_facts() -> None:
    signer = (SOURCE / "emulator" / "attested.py").read_text(encoding="utf-8")
    assert "from ..attest import spec" in signer
    for reader in ("verifier.py", "content.py", "cms.py", "signature.py", "cli.py"):
        assert "spec" in (SOURCE / "attest" / reader).read_text(encoding="utf-8"), reader


def test_utc_takes_naive_times_as_utc_and_converts_the_others() -> None:
    naive = datetime.datetime(2023, 3, 8, 18, 0)
    assert spec.utc(naive) == datetime.datetime(2023, 3, 8, 18, 0, tzinfo=UTC)
    eastern = datetime.timezone(datetime.timedelta(hours=-5))
    converted = spec.utc(datetime.datetime(2023, 3, 8, 13, 0, tzinfo=eastern))
    assert (converted.hour, converted.tzinfo) == (18, UTC)


def test_timestamps_round_trip_in_the_documents_format() -> None:
    moment = datetime.datetime(2020, 11, 30, 21, 19, 19, tzinfo=UTC)
    assert spec.format_time(moment) == spec.TIME_EXAMPLE == "11/30/20 21:19:19 -0000"
    assert spec.parse_time(spec.TIME_EXAMPLE) == moment


@pytest.mark.parametrize("text", [None, 5, "2020-11-30T21:19:19Z", "11/30/20 21:19:19", ""])
def test_a_timestamp_in_another_form_is_refused(text: object) -> None:
    with pytest.raises(ValueError):
        spec.parse_time(text)


def test_the_quirk_oids_are_the_rsa_signature_oids_of_their_hash() -> None:
    from cryptography.x509.oid import SignatureAlgorithmOID

    expected = {
        "sha256": SignatureAlgorithmOID.RSA_WITH_SHA256,
        "sha384": SignatureAlgorithmOID.RSA_WITH_SHA384,
        "sha512": SignatureAlgorithmOID.RSA_WITH_SHA512,
        "sha1": SignatureAlgorithmOID.RSA_WITH_SHA1,
        "md5": SignatureAlgorithmOID.RSA_WITH_MD5,
    }
    assert {k: v.dotted_string for k, v in expected.items()} == spec.RSA_WITH_HASH_OIDS


def test_the_module_is_standard_library_only() -> None:
    imports = re.findall(
        r"^(?:from|import) ([\w.]+)", Path(spec.__file__).read_text(encoding="utf-8"), re.M
    )
    assert set(imports) <= {"__future__", "datetime", "re", "secrets", "string", "typing"}
