"""The `azimds` IMDS sub-commands against the emulator: output, errors and exit codes."""

from __future__ import annotations

import base64
import json
from typing import Any, List

import pytest

from azimds.cli import main
from azimds.emulator import Emulator
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.imds import versions
from cli_support import azimds_process, run
from cli_support import isolated as isolated  # a fixture, used by name below

SECRET = "hunter2-do-not-print"

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def emu(imds_factory: EmulatorFactory) -> Emulator:
    b64 = base64.b64encode(SECRET.encode()).decode()
    return imds_factory({"rate_limit": False, "compute": {"userData": b64, "customData": b64}})


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


# --- get --------------------------------------------------------------------------------------


def test_get_a_single_value_prints_it_as_text(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    assert run(capsys, "get", "compute/zone", "--endpoint", emu.base_url) == (0, "1\n", "")


def test_get_a_node_prints_json(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    node = run_json(capsys, "get", "network/interface/0", "--endpoint", emu.base_url)
    assert "ipv4" in node and "macAddress" in node


def test_get_everything_is_one_request(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    document = run_json(capsys, "get", "--endpoint", emu.base_url)
    assert set(document) == {"compute", "network"}
    assert len(emu.requests) == 1


def test_get_as_text_lists_the_names_of_a_node(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, out, _ = run(capsys, "get", "compute", "--format", "text", "--endpoint", emu.base_url)
    assert code == 0 and "vmId" in out.splitlines() and "osProfile/" in out.splitlines()


def test_get_with_a_pinned_version(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    code, out, _ = run(
        capsys,
        "get",
        "compute/azEnvironment",
        "--api-version",
        "2018-10-01",
        "--endpoint",
        emu.base_url,
    )
    assert (code, out) == (0, "AzurePublicCloud\n")
    assert {r.query["api-version"][0] for r in emu.requests} == {"2018-10-01"}


def test_get_of_a_field_the_pinned_version_lacks_says_so_without_asking(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, _, err = run(
        capsys,
        "get",
        "compute/resourceId",
        "--api-version",
        "2018-10-01",
        "--endpoint",
        emu.base_url,
    )
    assert code == 7 and "compute.resourceId needs api-version 2019-03-11" in err
    assert emu.requests == []


def test_get_reads_the_endpoint_from_the_environment(
    capsys: pytest.CaptureFixture[str], emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZIMDS_ENDPOINT", emu.base_url)
    assert run(capsys, "get", "compute/location") == (0, "westus\n", "")


def test_verbose_prints_each_request_on_stderr(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, out, err = run(capsys, "get", "compute/zone", "-v", "--endpoint", emu.base_url)
    assert (code, out) == (0, "1\n")
    lines = err.splitlines()
    assert len(lines) == 1  # the parent as JSON, the leaf picked from it: one request
    assert "/metadata/instance/compute?" in lines[0] and "-> HTTP 200" in lines[0]
    assert "x-ms-client-request-id" in lines[0]
    assert len(emu.requests) == 1


def test_get_of_a_name_that_is_not_there_says_so_before_any_request(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, out, err = run(capsys, "get", "compute/Zone", "--endpoint", emu.base_url)
    assert (code, out) == (5, "")
    assert "compute has no 'Zone'" in err and "did you mean 'zone'?" in err
    assert "vmSize" in err and "case-sensitive" in err  # the names that exist are listed
    assert emu.requests == []


def test_get_with_an_explicit_format_asks_imds_for_that_node(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    assert run(capsys, "get", "compute/zone", "--format", "text", "--endpoint", emu.base_url) == (
        0,
        "1\n",
        "",
    )
    assert emu.requests[-1].path == "/metadata/instance/compute/zone"
    assert emu.requests[-1].query["format"] == ["text"]


# --- facts and tags ---------------------------------------------------------------------


def test_facts_default_to_ansible_and_json_when_piped(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    facts = run_json(capsys, "facts", "--endpoint", emu.base_url)
    assert facts["placement"]["zone"] == "1" and facts["api_version"] == versions.NEWEST
    assert "user_data" not in facts and "custom_data" not in facts


def test_facts_for_salt_and_cloud_init(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    grains = run_json(capsys, "facts", "--for", "salt", "--endpoint", emu.base_url)
    assert grains["zone"] == "1" and grains["tags"]["Environment"] == "Prod"
    metadata = run_json(capsys, "facts", "--for", "cloud-init", "--endpoint", emu.base_url)
    assert metadata["availability-zone"] == "1" and metadata["cloud-name"] == "azure"


def test_facts_as_a_table_for_a_person(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    code, out, _ = run(capsys, "facts", "-o", "table", "--endpoint", emu.base_url)
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["FACT"] == ["VALUE"]
    assert rows["placement.zone"] == ["1"]
    assert rows["tags.Environment"] == ["Prod"]


@pytest.mark.parametrize("output", ["json", "table"])
def test_no_output_ever_shows_user_or_custom_data(
    capsys: pytest.CaptureFixture[str], emu: Emulator, output: str
) -> None:
    for command in (
        ["facts"],
        ["facts", "--for", "salt"],
        ["facts", "--for", "cloud-init"],
        ["tags"],
    ):
        code, out, err = run(capsys, *command, "-o", output, "-v", "--endpoint", emu.base_url)
        assert code == 0
        encoded = base64.b64encode(SECRET.encode()).decode()
        assert SECRET not in out + err and encoded not in out + err


def test_tags_as_json_and_as_a_table(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    tags = run_json(capsys, "tags", "--endpoint", emu.base_url)
    assert tags == {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"}
    code, out, _ = run(capsys, "tags", "-o", "table", "--endpoint", emu.base_url)
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "VALUE"]
    assert out.splitlines()[1].split() == ["Department", "IT"]


def test_tags_from_an_imds_without_tags_list(
    capsys: pytest.CaptureFixture[str], imds_factory: EmulatorFactory
) -> None:
    old = imds_factory({"rate_limit": False, "api_versions": {"newest": "2019-06-01"}})
    tags = run_json(capsys, "tags", "--endpoint", old.base_url)
    assert tags["Environment"] == "Prod"


# --- versions and detect ------------------------------------------------------------------


def test_versions_as_json_and_table(
    capsys: pytest.CaptureFixture[str], imds_factory: EmulatorFactory
) -> None:
    emu = imds_factory({"rate_limit": False, "api_versions": {"newest": "2021-02-01"}})
    listing = run_json(capsys, "versions", "--endpoint", emu.base_url)
    assert listing["offered"][-1] == "2021-02-01" and listing["used"] == "2021-02-01"
    code, out, _ = run(capsys, "versions", "-o", "table", "--endpoint", emu.base_url)
    assert code == 0 and out.splitlines()[-1].split() == ["2021-02-01", "yes", "<-", "used"]


def test_detect_off_azure_exits_3_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "detect", "-o", "json")
    report = json.loads(out)
    assert code == 3 and report["on_azure"] is False and "cannot read" in report["reason"]


def test_detect_with_an_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "detect", "--endpoint", "http://127.0.0.1:8169", "-o", "table")
    assert code == 0
    assert out.splitlines()[0].split() == ["on", "Azure", "yes"]


# --- exit codes ------------------------------------------------------------------------------


def test_exit_3_when_not_on_azure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "get")
    assert (code, out) == (3, "") and "not on Azure" in err and "AZIMDS_ENDPOINT" in err


def test_exit_4_when_imds_is_unavailable(capsys: pytest.CaptureFixture[str], emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 500})
    code, _, err = run(capsys, "get", "--timeout", "0.5", "--endpoint", emu.base_url)
    assert code == 4 and "IMDS unavailable" in err and "HTTP 500" in err


def test_exit_5_when_the_element_does_not_exist(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, _, err = run(
        capsys, "get", "network/interface/0/ipv6/ipAddress/0", "--endpoint", emu.base_url
    )
    assert code == 5 and "no element '0' under network/interface/0/ipv6/ipAddress" in err


def test_exit_6_when_imds_rejects_the_request(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, _, err = run(
        capsys, "get", "compute/zone", "--format", "json", "--endpoint", emu.base_url
    )
    assert code == 6 and "HTTP 400" in err and "format text" in err


def test_exit_7_when_the_version_is_not_available(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, _, err = run(capsys, "get", "--api-version", "2030-01-01", "--endpoint", emu.base_url)
    assert code == 7 and "pinned api-version 2030-01-01" in err


def test_exit_8_when_the_answer_is_unusable(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    for fault in (
        {"kind": "malformed", "times": 1},
        {"kind": "oversized", "times": 1},
        {"kind": "redirect", "times": 1},
    ):
        emu.add_fault(fault)
        code, _, err = run(capsys, "facts", "--endpoint", emu.base_url)
        assert code == 8, err


def test_exit_2_for_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "get", "--endpoint", "https://169.254.169.254")[0] == 2
    with pytest.raises(SystemExit) as caught:
        main(["get", "--timeout", "-1"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["facts", "--for", "puppet"])
    assert caught.value.code == 2


def test_exit_2_for_an_unclear_disable_switch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZIMDS_DISABLE", "perhaps")
    code, _, err = run(capsys, "get")
    assert code == 2 and "AZIMDS_DISABLE" in err


# --- as a process ------------------------------------------------------------------------------


def test_the_command_runs_as_a_process(emu: Emulator) -> None:
    done = azimds_process("get", "compute/zone", "--endpoint", emu.base_url)
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")


def test_help_explains_commands_and_exit_codes() -> None:
    done = azimds_process("--help")
    for command in ("get", "facts", "tags", "versions", "detect"):
        assert command in done.stdout
    helps: List[str] = [azimds_process(c, "--help").stdout for c in ("get", "facts", "tags")]
    assert all("exit codes:" in text and "AZIMDS_ENDPOINT" in text for text in helps)
