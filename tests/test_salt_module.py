"""The azure_imds module's own rules, called in this process as Salt's loader calls it.

The loader gives the module ``__opts__`` and calls ``__virtual__`` and ``azure(grains=...)``;
these tests do the same, against the emulator on loopback, without starting Salt. What Salt
itself does with the module (loading, targeting, salt-call) is in test_salt_grains.py,
test_salt_loader.py and test_salt_master.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from azimds.emulator import Emulator
from azimds.saltext.grains import azure_imds

VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"
VM_ID_SWAPPED = "9963f513-52bd-5041-9748-7190aae1ff21"  # the first three fields little-endian


@pytest.fixture
def opts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, Any]]:
    """The module's ``__opts__``, as the loader sets it: a minion config with a cachedir."""
    settings: Dict[str, Any] = {"cachedir": str(tmp_path / "cache")}
    monkeypatch.setattr(azure_imds, "__opts__", settings, raising=False)
    monkeypatch.delenv("AZIMDS_ENDPOINT", raising=False)
    yield settings


def cache_file(opts: Dict[str, Any]) -> Path:
    return Path(opts["cachedir"]) / "azure_imds" / "grain.json"


def fetches(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.path.startswith("/metadata/instance"))


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ({"timeout": "soon"}, "azure_imds:timeout must be a number of seconds above 0, at most"),
        ({"timeout": 0}, "azure_imds:timeout must be a number of seconds above 0"),
        ({"timeout": 600}, "azure_imds:timeout must be a number of seconds above 0, at most 60"),
        ({"timeout": True}, "azure_imds:timeout must be a number of seconds above 0"),
        ({"cache_lifetime": -5}, "azure_imds:cache_lifetime must be a number of seconds from 0"),
        ({"enabled": "yes please"}, "azure_imds:enabled must be true or false, not 'yes please'"),
        ({"include_user_data": 1}, "azure_imds:include_user_data must be true or false, not 1"),
        ({"endpoint": "ftp://imds"}, "azure_imds:endpoint must be of the form http://HOST[:PORT]"),
        ({"endpoint": ""}, "azure_imds:endpoint must be a URL such as http://169.254.169.254"),
        ({"cache_lifteime": 5}, "unknown key(s) cache_lifteime (known: enabled, endpoint,"),
        (["enabled"], "azure_imds must be a mapping of settings, not ['enabled']"),
        ("x" * 100, "azure_imds must be a mapping of settings, not 'xxxxxxxx"),
    ],
)
def test_each_bad_setting_is_named_with_what_to_write_instead(
    opts: Dict[str, Any], caplog: pytest.LogCaptureFixture, section: Any, said: str
) -> None:
    opts["azure_imds"] = section
    verdict = azure_imds.__virtual__()
    assert isinstance(verdict, tuple) and verdict[0] is False and said in verdict[1]
    (record,) = [r for r in caplog.records if "azure_imds" in r.getMessage()]
    assert record.levelname == "ERROR" and record.exc_info is None
    assert said in record.getMessage() and len(record.getMessage()) < 300
    assert record.getMessage().endswith(
        "the azure grain is skipped until the minion config is fixed"
    )


def test_settings_default_and_accept_what_yaml_gives(opts: Dict[str, Any]) -> None:
    assert azure_imds._read_settings(None) == azure_imds.Settings(True, None, 3.0, 300.0, False)
    given = {"timeout": 2, "cache_lifetime": 0, "enabled": True, "endpoint": "http://127.0.0.1:9"}
    assert azure_imds._read_settings(given) == azure_imds.Settings(
        True, "http://127.0.0.1:9", 2.0, 0.0, False
    )


def test_off_azure_virtual_says_why_without_a_socket(
    opts: Dict[str, Any], socket_events: list[Any]
) -> None:
    verdict = azure_imds.__virtual__()
    assert verdict == (
        False,
        "azure_imds: not on Azure (cannot read "
        "/nonexistent/azimds-tests-have-no-dmi/chassis_asset_tag (not Linux, or no DMI data))",
    )
    assert socket_events == []


def test_virtual_is_yes_with_an_endpoint_and_no_when_disabled(
    opts: Dict[str, Any], imds: Emulator
) -> None:
    opts["azure_imds"] = {"endpoint": imds.base_url}
    assert azure_imds.__virtual__() == "azure_imds"
    opts["azure_imds"] = {"endpoint": imds.base_url, "enabled": False}
    assert azure_imds.__virtual__() == (False, "azure_imds: disabled (azure_imds:enabled is false)")
    assert fetches(imds) == 0


def test_the_cache_is_owner_only_json_keyed_by_endpoint(
    opts: Dict[str, Any], imds: Emulator
) -> None:
    opts["azure_imds"] = {"endpoint": imds.base_url}
    grain = azure_imds.azure()["azure"]
    assert grain["zone"] == "1" and grain["stale"] is False
    path = cache_file(opts)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    entry = json.loads(path.read_text())
    assert entry["endpoint"] == imds.base_url and entry["grains"]["vm_id"] == VM_ID
    assert [p.name for p in path.parent.iterdir()] == ["grain.json"]  # no temporary file left
    opts["azure_imds"] = {"endpoint": imds.base_url + "/"}  # another endpoint string
    azure_imds.azure()
    assert fetches(imds) == 2


def test_a_corrupt_cache_is_ignored_and_replaced(opts: Dict[str, Any], imds: Emulator) -> None:
    opts["azure_imds"] = {"endpoint": imds.base_url}
    path = cache_file(opts)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "endpoint": ')
    assert azure_imds.azure()["azure"]["zone"] == "1"
    assert json.loads(path.read_text())["format"] == 1
    assert fetches(imds) == 1


def test_salt_s_uuid_grain_keeps_another_vm_s_cache_out(
    opts: Dict[str, Any], imds: Emulator
) -> None:
    """A cache carried over in a VM image describes the VM the image was made on."""
    opts["azure_imds"] = {"endpoint": imds.base_url, "timeout": 0.5}
    azure_imds.azure(grains={"uuid": VM_ID})
    azure_imds.azure(grains={"uuid": VM_ID.upper()})
    azure_imds.azure(grains={"uuid": VM_ID_SWAPPED})  # older VMs: byte-swapped
    azure_imds.azure(grains={})  # Salt could not read the UUID (not root): no check
    assert fetches(imds) == 1
    other = "0b5b3b2e-8c9c-4d3e-9f57-7d1f3c5e2a10"
    assert azure_imds.azure(grains={"uuid": other})["azure"]["stale"] is False
    assert fetches(imds) == 2
    imds.stop()
    # IMDS gone: another VM's cache is not served, even as stale.
    assert azure_imds.azure(grains={"uuid": other}) == {}
    assert azure_imds.azure(grains={"uuid": VM_ID})["azure"]["stale"] is False


def test_an_unwritable_cachedir_still_gives_the_grain(
    opts: Dict[str, Any], imds: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = Path(opts["cachedir"])
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the cache folder should be")
    opts["azure_imds"] = {"endpoint": imds.base_url}
    assert azure_imds.azure()["azure"]["zone"] == "1"
    assert any("cannot write the cache" in r.getMessage() for r in caplog.records)
    assert os.path.isfile(blocker)


def test_a_cache_dated_in_the_future_is_not_fresh_forever(
    opts: Dict[str, Any], imds: Emulator
) -> None:
    """The clock was set back after the cache was written: it ages as far as it is ahead."""
    opts["azure_imds"] = {"endpoint": imds.base_url}
    azure_imds.azure()
    path = cache_file(opts)
    entry = json.loads(path.read_text())
    entry["fetched_at"] += 3600
    path.write_text(json.dumps(entry))
    azure_imds.azure()
    assert fetches(imds) == 2


LOADED = """
import json, sys
from azimds.saltext.grains import azure_imds
azure_imds.__opts__ = {"cachedir": sys.argv[1], "azure_imds": {"endpoint": sys.argv[2]}}
fetched = azure_imds.azure(grains={"uuid": sys.argv[3]})["azure"]
cached = azure_imds.azure(grains={"uuid": sys.argv[3]})["azure"]  # vmId checked against it
print(json.dumps({
    "same": fetched == cached,
    "azimds": sorted(name for name in sys.modules if name.startswith("azimds.")),
}))
"""


def test_the_grain_and_its_cache_need_only_the_shipped_core(tmp_path: Path, imds: Emulator) -> None:
    """The VM-identity rule comes from azimds.imds: a minion never loads the cloud-init code."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(tmp_path / "cache"), imds.base_url, VM_ID_SWAPPED],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["same"] is True and fetches(imds) == 1  # the second came from the cache
    assert {name.split(".")[1] for name in report["azimds"]} == {"imds", "facts", "saltext"}
    assert "azimds.imds.identity" in report["azimds"]
