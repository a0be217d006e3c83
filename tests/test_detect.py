"""Detection decides, before any traffic, whether and where to talk to IMDS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from azimds.imds.client import Client
from azimds.imds.detect import (
    AZURE_CHASSIS_ASSET_TAG,
    DEFAULT_ENDPOINT,
    detect,
    not_on_azure_message,
)
from azimds.imds.errors import NotOnAzure


def dmi_dir(tmp_path: Path, tag: str) -> str:
    directory = tmp_path / "dmi"
    directory.mkdir(exist_ok=True)
    (directory / "chassis_asset_tag").write_text(tag + "\n")
    return str(directory)


def test_azure_asset_tag_means_talk_to_the_well_known_address(tmp_path: Path) -> None:
    found = detect(environ={"AZIMDS_DMI_DIR": dmi_dir(tmp_path, AZURE_CHASSIS_ASSET_TAG)})
    assert found.on_azure
    assert found.endpoint == DEFAULT_ENDPOINT == "http://169.254.169.254"
    assert found.source == "dmi"


def test_another_asset_tag_means_not_azure_and_says_what_was_read(tmp_path: Path) -> None:
    found = detect(environ={"AZIMDS_DMI_DIR": dmi_dir(tmp_path, "Default string")})
    assert not found.on_azure and found.endpoint is None and found.source == "none"
    assert "'Default string'" in found.reason and AZURE_CHASSIS_ASSET_TAG in found.reason


def test_no_dmi_data_means_not_azure(tmp_path: Path) -> None:
    found = detect(environ={"AZIMDS_DMI_DIR": str(tmp_path / "missing")})
    assert not found.on_azure
    assert "cannot read" in found.reason


def test_an_endpoint_argument_implies_talk_to_it(tmp_path: Path) -> None:
    env = {"AZIMDS_DMI_DIR": str(tmp_path), "AZIMDS_ENDPOINT": "http://127.0.0.1:2"}
    found = detect("http://127.0.0.1:1", environ=env)
    assert (found.on_azure, found.endpoint, found.source) == (
        True,
        "http://127.0.0.1:1",
        "argument",
    )


def test_the_environment_endpoint_implies_talk_to_it(tmp_path: Path) -> None:
    found = detect(
        environ={"AZIMDS_DMI_DIR": str(tmp_path), "AZIMDS_ENDPOINT": "http://127.0.0.1:2"}
    )
    assert (found.on_azure, found.endpoint, found.source) == (
        True,
        "http://127.0.0.1:2",
        "environment",
    )


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disable_wins_over_everything(tmp_path: Path, value: str) -> None:
    env = {
        "AZIMDS_DISABLE": value,
        "AZIMDS_ENDPOINT": "http://127.0.0.1:2",
        "AZIMDS_DMI_DIR": dmi_dir(tmp_path, AZURE_CHASSIS_ASSET_TAG),
    }
    found = detect("http://127.0.0.1:1", environ=env)
    assert (found.on_azure, found.source) == (False, "disabled")


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_disable_set_to_false_is_ignored(tmp_path: Path, value: str) -> None:
    found = detect("http://127.0.0.1:1", environ={"AZIMDS_DISABLE": value})
    assert found.on_azure


def test_disable_with_an_unclear_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="AZIMDS_DISABLE"):
        detect(environ={"AZIMDS_DISABLE": "maybe"})


def test_detection_reads_os_environ_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AZIMDS_DMI_DIR", dmi_dir(tmp_path, AZURE_CHASSIS_ASSET_TAG))
    monkeypatch.delenv("AZIMDS_ENDPOINT", raising=False)
    monkeypatch.delenv("AZIMDS_DISABLE", raising=False)
    assert detect().source == "dmi"


def test_off_azure_the_client_answers_without_opening_a_socket(
    tmp_path: Path, no_sockets: None
) -> None:
    client = Client(environ={"AZIMDS_DMI_DIR": dmi_dir(tmp_path, "No Asset Tag")})
    assert not client.on_azure
    for call in (client.instance, client.get, client.versions):
        with pytest.raises(NotOnAzure, match="Nothing was sent") as caught:
            call()
        assert "No Asset Tag" in caught.value.reason


def test_disabled_the_client_answers_without_opening_a_socket(no_sockets: None) -> None:
    client = Client("http://127.0.0.1:1", environ={"AZIMDS_DISABLE": "1"})
    with pytest.raises(NotOnAzure, match="AZIMDS_DISABLE"):
        client.instance()


def test_off_azure_with_the_real_environment_and_no_dmi_opens_no_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_sockets: None
) -> None:
    monkeypatch.setenv("AZIMDS_DMI_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("AZIMDS_ENDPOINT", raising=False)
    monkeypatch.delenv("AZIMDS_DISABLE", raising=False)
    with pytest.raises(NotOnAzure):
        Client().instance()


def test_not_on_azure_says_what_to_do_and_the_error_says_the_same(tmp_path: Path) -> None:
    off = detect(environ={"AZIMDS_DMI_DIR": str(tmp_path / "none")})
    told = not_on_azure_message(off.reason)
    assert told.startswith(f"not on Azure: {off.reason}. Nothing was sent.")
    assert "set AZIMDS_ENDPOINT=http://HOST:PORT" in told
    disabled = detect(environ={"AZIMDS_DISABLE": "yes"})
    told_disabled = not_on_azure_message(disabled.reason, disabled=True)
    assert "AZIMDS_DISABLE=yes is set" in told_disabled and "unset it" in told_disabled
    assert str(NotOnAzure(off.reason)) == told
    assert str(NotOnAzure(disabled.reason, disabled=True)) == told_disabled


# What the off-Azure path imports: in Ansible every imported file is compiled from source on
# every run, and a Salt minion or cloud-init off Azure should load no more than it uses.
OFF_AZURE_IMPORTS = """
import sys
from azimds.imds.detect import detect, not_on_azure_message
found = detect(environ={"AZIMDS_DMI_DIR": sys.argv[1]})
assert not found.on_azure
print(not_on_azure_message(found.reason))
print(" ".join(sorted(name for name in sys.modules if name.startswith("azimds."))))
"""


def test_off_azure_detection_and_its_message_import_nothing_more(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OFF_AZURE_IMPORTS, str(tmp_path / "no-dmi")],
        capture_output=True,
        text=True,
        check=True,
    )
    message, modules = done.stdout.splitlines()
    assert message.startswith("not on Azure: cannot read") and "Nothing was sent" in message
    assert modules.split() == ["azimds.imds", "azimds.imds.detect", "azimds.imds.version"]


def test_an_endpoint_is_still_checked_when_detection_imports_its_parser_late() -> None:
    with pytest.raises(ValueError, match="not of the form http://HOST"):
        detect("https://127.0.0.1:1")
    with pytest.raises(ValueError, match="not of the form http://HOST"):
        detect(environ={"AZIMDS_ENDPOINT": "http://127.0.0.1:1/path"})
