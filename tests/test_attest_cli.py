"""``azimds attest`` and ``azimds verify`` as a person (or a script) runs them."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from azimds.attest.cli import register
from azimds.attest.errors import AttestError, FetchError, all_errors
from azimds.emulator.attested import INTERMEDIATE_DER_PATH, build_signed_data, content_bytes
from test_attest_fetch import attested_route
from test_attest_support import (
    NONCE,
    REPO,
    TESTDATA,
    USGOV_2023,
    USGOV_2023_NONCE,
    LoopbackServer,
    as_response,
    ca_signer,
    content_for,
    other_ca,
    real_document,
    shared_ca,
)

USGOV_AT = "2023-03-08T18:00Z"


def run(argv: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="azimds")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = int(args.handler(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def usgov_json(tmp_path: Path) -> Path:
    path = tmp_path / "usgov.json"
    path.write_text(json.dumps({"encoding": "pkcs7", "signature": real_document(USGOV_2023)}))
    return path


@pytest.fixture
def imds_stub() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        attested_route(other_ca(), server)
        yield server


@pytest.fixture
def emulator_root(tmp_path: Path) -> Path:
    path = tmp_path / "emulator-root.pem"
    path.write_bytes(other_ca().root_pem())
    return path


def test_verify_prints_a_readable_report(
    usgov_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["verify", str(usgov_json), "--nonce", USGOV_2023_NONCE, "--at", USGOV_AT, "--offline"],
        capsys,
    )
    assert (code, err) == (0, "")
    assert out.startswith("VERIFIED  attested document from AzureUSGovernmentCloud")
    assert "990878d4-068a-4ac4-9ee9-1231d2218ef2" in out
    assert "20230308-230933 (matches the request)" in out
    assert "<- CN=DigiCert Global Root G2" in out


def test_verify_reads_a_bare_signature_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(real_document(USGOV_2023) + "\n"))
    code, out, _ = run(
        ["verify", "-", "--nonce", USGOV_2023_NONCE, "--at", USGOV_AT, "--offline"], capsys
    )
    assert code == 0
    assert "VERIFIED" in out


def test_verify_trusts_an_extra_root_from_a_pem_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "public.b64"
    document.write_text(real_document("public-2022.b64"))
    code, out, _ = run(
        [
            "verify",
            str(document),
            "--nonce",
            "20220419-072721",
            "--at",
            "2022-04-19T02:00:00+00:00",
            "--offline",
            "--trust",
            str(TESTDATA / "root-baltimore-cybertrust-root.pem"),
        ],
        capsys,
    )
    assert code == 0
    assert "Baltimore CyberTrust Root" in out


def test_an_expired_real_document_exits_with_its_own_code(
    usgov_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["verify", str(usgov_json), "--nonce", USGOV_2023_NONCE, "--offline"], capsys
    )
    assert code == 21
    assert out == ""
    assert err.startswith("REJECTED  [certificate-expired] the signer certificate")
    assert "  what to do: Fetch a fresh document" in err


@pytest.mark.parametrize(
    ("extra", "code", "reason"),
    [
        (["--nonce", "wrong"], 31, "nonce-mismatch"),
        (["--nonce", USGOV_2023_NONCE, "--expect-vm-id", "00000000-0000"], 34, "vm-id-mismatch"),
        (["--nonce", USGOV_2023_NONCE, "--cloud", "AzureChinaCloud"], 22, "wrong-cloud"),
        (["--nonce", USGOV_2023_NONCE, "--at", "2023-03-09T03:00Z"], 32, "document-expired"),
    ],
)
def test_json_output_names_the_reason_and_exit_code(
    usgov_json: Path, extra: List[str], code: int, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", str(usgov_json), "--offline", "--json", "--at", USGOV_AT, *extra]
    got, out, _ = run(argv, capsys)
    payload = json.loads(out)
    assert got == code == payload["exit_code"]
    assert payload["verified"] is False
    assert payload["error"]["code"] == reason


def test_json_output_of_a_verified_document(
    usgov_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", str(usgov_json), "--nonce", USGOV_2023_NONCE, "--at", USGOV_AT, "--offline"]
    code, out, _ = run([*argv, "--json"], capsys)
    payload = json.loads(out)
    assert code == 0
    assert payload["verified"] is True
    assert payload["cloud"] == "AzureUSGovernmentCloud"
    assert payload["content"]["vmId"] == "990878d4-068a-4ac4-9ee9-1231d2218ef2"
    assert len(payload["chain"]) == 3


def strict_loads(text: str) -> object:
    """Return the JSON in ``text``; NaN and Infinity are not JSON and fail."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in the output")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_a_signed_number_json_cannot_carry_is_bad_content_not_json_output(
    value: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = ca_signer()
    content = content_bytes(content_for())[:-1] + b',"extra":' + value + b"}"
    der = build_signed_data(
        content,
        signer.certificate,
        signer.key,
        certificates=[signer.certificate, shared_ca().intermediate],
    )
    document = tmp_path / "doc.json"
    document.write_text(json.dumps(as_response(der)))
    root = tmp_path / "root.pem"
    root.write_bytes(shared_ca().root_pem())
    argv = ["verify", str(document), "--nonce", NONCE, "--trust", str(root), "--offline"]
    code, out, _ = run([*argv, "--json"], capsys)
    payload = strict_loads(out)
    assert code == 30
    assert isinstance(payload, dict)
    assert payload["error"]["code"] == "bad-content"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--at", "yesterday"], "not an ISO 8601 time"),
        (["--trust", "/nonexistent/root.pem"], "cannot read certificate file"),
        (["--cloud", "AzureMoonCloud"], "unknown Azure cloud"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    usgov_json: Path, argv: List[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["verify", str(usgov_json), "--nonce", "n", "--offline", *argv], capsys)
    assert code == 2
    assert message in err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["verify", str(tmp_path / "nope.json"), "--nonce", "n"], capsys)
    assert code == 2
    assert "nope.json" in err


def test_a_file_that_is_not_a_document_is_rejected_as_bad_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"encoding": "pkcs7", "signature": "%%%"}')
    code, _, err = run(["verify", str(path), "--nonce", "n", "--offline"], capsys)
    assert code == 10
    assert "[bad-encoding]" in err


def test_attest_off_azure_sends_nothing_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    socket_events: list[tuple[str, object]],
) -> None:
    monkeypatch.delenv("AZIMDS_ENDPOINT", raising=False)
    monkeypatch.setenv("AZIMDS_DMI_DIR", str(tmp_path))  # no Azure asset tag here
    code, out, err = run(["attest"], capsys)
    assert code == 3
    assert out == ""
    assert "not on Azure" in err
    assert "Nothing was sent" in err
    assert "--endpoint" in err
    assert socket_events == []


def test_attest_with_azimds_disable_says_to_unset_it_not_to_pass_an_endpoint(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    socket_events: list[tuple[str, object]],
) -> None:
    monkeypatch.setenv("AZIMDS_DISABLE", "1")
    code, out, err = run(["attest", "--endpoint", "http://127.0.0.1:9"], capsys)
    assert (code, out) == (3, "")
    assert err.startswith("azimds: not on Azure: AZIMDS_DISABLE=1 is set. Nothing was sent.")
    assert "unset it" in err and "--endpoint" not in err
    assert socket_events == []


def test_attest_prints_the_document_and_the_nonce(
    imds_stub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["attest", "--endpoint", imds_stub.base_url], capsys)
    assert code == 0
    assert json.loads(out)["encoding"] == "pkcs7"
    nonce = re.search(r"fetched with nonce ([A-Za-z0-9]{32})", err)
    assert nonce is not None
    assert f"nonce={nonce.group(1)}" in imds_stub.seen[0][0]


def test_attest_uses_the_environment_endpoint(
    imds_stub: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZIMDS_ENDPOINT", imds_stub.base_url)
    code, out, _ = run(["attest", "--json", "--nonce", "abc123"], capsys)
    payload = json.loads(out)
    assert code == 0
    assert payload["nonce"] == "abc123"
    assert payload["response"]["encoding"] == "pkcs7"


def test_attest_verify_with_the_emulator_root_trusted(
    imds_stub: LoopbackServer, emulator_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["attest", "--endpoint", imds_stub.base_url, "--verify", "--trust", str(emulator_root)]
    code, out, _ = run([*argv, "--aia-host", imds_stub.host_port, "--expect-vm-id",
                        "13f56399-bd52-4150-9748-7190aae1ff21"], capsys)  # fmt: skip
    assert code == 0
    assert "VERIFIED  attested document from AzurePublicCloud" in out
    assert "(matches the request)" in out


def test_the_given_endpoint_serves_its_intermediate_without_aia_host(
    imds_stub: LoopbackServer, emulator_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["attest", "--endpoint", imds_stub.base_url, "--verify", "--trust", str(emulator_root)]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "")
    assert out.startswith("VERIFIED  attested document from AzurePublicCloud")
    assert INTERMEDIATE_DER_PATH in imds_stub.paths()


def test_the_environment_endpoint_serves_its_intermediate_too(
    imds_stub: LoopbackServer,
    emulator_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AZIMDS_ENDPOINT", imds_stub.base_url)
    code, out, _ = run(["attest", "--verify", "--trust", str(emulator_root)], capsys)
    assert code == 0
    assert out.startswith("VERIFIED")


def test_an_untrusted_root_is_refused_even_with_intermediates_from_the_endpoint(
    imds_stub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["attest", "--endpoint", imds_stub.base_url, "--verify"], capsys)
    assert (code, out) == (20, "")
    # The intermediate did come from the endpoint; the root it names is still not trusted.
    assert INTERMEDIATE_DER_PATH in imds_stub.paths()
    assert err.startswith("REJECTED  [untrusted-chain]")
    assert "what to do: The chain leads to the azimds emulator CA" in err
    assert "--trust" in err


def test_another_emulators_root_is_named_in_the_hint(
    imds_stub: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong-root.pem"
    wrong.write_bytes(shared_ca().root_pem())  # imds_stub signs with other_ca()
    argv = ["attest", "--endpoint", imds_stub.base_url, "--verify", "--trust", str(wrong)]
    code, _, err = run(argv, capsys)
    assert code == 20
    assert f"emulator test root {other_ca().label}" in err
    assert "each emulator makes its own" in err


def test_attest_verify_without_trusting_the_emulator_is_untrusted(
    imds_stub: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["attest", "--endpoint", imds_stub.base_url, "--verify", "--offline"], capsys
    )
    assert code == 20
    assert "[untrusted-chain]" in err
    # Offline stays offline, even for the endpoint's own intermediate.
    assert INTERMEDIATE_DER_PATH not in imds_stub.paths()
    assert "verification is offline" in err


def test_verify_of_an_emulator_document_says_which_aia_host_to_allow(
    imds_stub: LoopbackServer,
    emulator_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["attest", "--endpoint", imds_stub.base_url, "--nonce", "abc123"], capsys)
    assert code == 0
    document = tmp_path / "doc.json"
    document.write_text(out)
    argv = ["verify", str(document), "--nonce", "abc123", "--trust", str(emulator_root)]
    code, _, err = run(argv, capsys)
    assert code == 20
    assert f"allow it with --aia-host {imds_stub.host_port}" in err
    assert "trust the emulator" not in err  # the user did: that is not the problem
    assert INTERMEDIATE_DER_PATH not in imds_stub.paths()  # refused before any request
    code, out, _ = run([*argv, "--aia-host", imds_stub.host_port], capsys)
    assert code == 0
    assert out.startswith("VERIFIED")


def test_attest_reports_a_failed_fetch(capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackServer() as server:
        url = server.base_url
    code, _, err = run(["attest", "--endpoint", url, "--timeout", "2"], capsys)
    assert code == 4
    assert "[fetch-failed]" in err


def test_every_reason_has_its_own_code_and_exit_code_listed_in_help_and_docs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    errors = all_errors()
    assert len({e.code for e in errors}) == len(errors)
    assert len({e.exit_code for e in errors}) == len(errors)
    helps = {}
    for command in ("attest", "verify"):
        with pytest.raises(SystemExit):
            run([command, "--help"], capsys)
        helps[command] = capsys.readouterr().out
    docs = (REPO / "docs" / "attestation.md").read_text(encoding="utf-8")
    for error in errors:
        assert issubclass(error, AttestError)
        # Only attest fetches: a failed fetch is listed there, every rejection in both.
        for command in ("attest",) if error is FetchError else ("attest", "verify"):
            listed = re.search(rf"\b{error.exit_code}\s+{error.code}\b", helps[command])
            assert listed, (command, error.code)
        assert re.search(rf"\|\s*{error.exit_code}\s*\|\s*`{error.code}`", docs), error.code
