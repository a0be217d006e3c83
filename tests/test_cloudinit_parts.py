"""The datasource's parts that need no cloud-init: settings, network shape, snippet.

And one that does: what importing the datasource module loads. Of azimds only the standard
library core (imds, facts) and the datasource package: where cloud-init runs, azimds can be
installed without its dependencies (``pip install --no-deps``).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

import azimds.cloudinit
from azimds import demo
from azimds.cloudinit import SNIPPET_NAME, snippet
from azimds.cloudinit.settings import DEFAULT_TIMEOUT, Settings, read_settings
from azimds.emulator import Emulator, default_profile
from azimds.facts import model, shapes
from azimds.imds import versions
from cloudinit_support import RELEASE_IDS, RELEASES, require

# --- settings ------------------------------------------------------------------------------


def settings_and_warnings(ds_cfg: Any) -> tuple[Settings, List[str]]:
    warnings: List[str] = []
    return read_settings(ds_cfg, warnings.append), warnings


@pytest.mark.parametrize("ds_cfg", [None, {}])
def test_no_settings_give_the_defaults(ds_cfg: Any) -> None:
    assert settings_and_warnings(ds_cfg) == (Settings(), [])
    assert Settings().timeout == DEFAULT_TIMEOUT == 90.0


def test_settings_are_read() -> None:
    ds_cfg = {"timeout": 12, "endpoint": " http://127.0.0.1:8169 ", "apply_network_config": True}
    assert settings_and_warnings(ds_cfg) == (Settings(12.0, "http://127.0.0.1:8169", True), [])


@pytest.mark.parametrize(
    ("ds_cfg", "expected"),
    [
        ({"timeout": "2.5"}, Settings(timeout=2.5)),
        ({"apply_network_config": "yes"}, Settings(apply_network_config=True)),
        ({"apply_network_config": "off"}, Settings()),
        ({"endpoint": ""}, Settings()),
    ],
)
def test_string_forms_are_understood(ds_cfg: Dict[str, Any], expected: Settings) -> None:
    assert settings_and_warnings(ds_cfg) == (expected, [])


@pytest.mark.parametrize(
    ("ds_cfg", "warning"),
    [
        ({"timeout": "soon"}, "timeout must be a positive number of seconds, found str 'soon'"),
        ({"timeout": 0}, "timeout must be a positive number of seconds, found int 0"),
        ({"timeout": True}, "timeout must be a positive number of seconds, found bool"),
        ({"timeout": float("inf")}, "found float inf"),
        ({"endpoint": 8169}, "endpoint must be a URL such as http://127.0.0.1:8169, found int"),
        ({"apply_network_config": "maybe"}, "apply_network_config must be true or false"),
        ({"tiemout": 5}, "unknown key(s) tiemout ignored"),
        (["timeout", 5], "expected a mapping of settings, found list"),
    ],
)
def test_wrong_settings_give_one_line_each_and_the_default(ds_cfg: Any, warning: str) -> None:
    settings, warnings = settings_and_warnings(ds_cfg)
    assert settings == Settings()
    [line] = warnings
    assert line.startswith("datasource AzureImds: ")
    assert warning in line
    assert "\n" not in line


# --- network configuration shape -------------------------------------------------------------


DEFAULT_NICS = default_profile().instance["network"]["interface"]


def instance(interfaces: List[Dict[str, Any]]) -> model.Instance:
    """Return the default VM, normalized at the newest version, with ``interfaces``."""
    document = copy.deepcopy(default_profile().instance)
    document["network"] = {"interface": interfaces}
    return model.normalize(versions.document_at(document, versions.NEWEST), versions.NEWEST)


def test_network_config_of_the_default_vm() -> None:
    config = shapes.cloud_init_network_config(instance(DEFAULT_NICS))
    assert config == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "00:0d:3a:36:dd:ed", "driver": "hv_netvsc"},
                "set-name": "eth0",
                "dhcp4": True,
                "dhcp6": False,
                "dhcp4-overrides": {"route-metric": 100},
            }
        },
    }


def test_network_config_skips_interfaces_without_address_and_keeps_positions() -> None:
    bare = {"ipv4": {"ipAddress": []}, "ipv6": {"ipAddress": []}, "macAddress": "000D3A000001"}
    dual = {
        "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}]},
        "ipv6": {"ipAddress": [{"privateIpAddress": "fd00::4"}, {"privateIpAddress": "fd00::5"}]},
        "macAddress": "000D3A000002",
    }
    config = shapes.cloud_init_network_config(instance([bare, dual]))
    assert list(config["ethernets"]) == ["eth1"]
    eth1 = config["ethernets"]["eth1"]
    assert eth1["dhcp4"] is True and eth1["dhcp6"] is True
    assert eth1["dhcp6-overrides"] == {"route-metric": 200}
    assert eth1["addresses"] == ["fd00::5/128"]  # no IPv6 subnet served: a host route


def test_network_config_with_no_interfaces_is_empty() -> None:
    assert shapes.cloud_init_network_config(instance([])) == {"version": 2, "ethernets": {}}


# --- the cloud.cfg.d snippet ---------------------------------------------------------------


def test_the_snippet_holds_the_three_lines() -> None:
    cfg = yaml.safe_load(snippet())
    assert cfg["datasource_pkg_list"] == ["azimds.cloudinit"]
    assert cfg["datasource_list"] == ["AzureImds", "None"]
    assert cfg["datasource"]["AzureImds"] == {"timeout": 90, "apply_network_config": False}
    assert SNIPPET_NAME > "90_dpkg.cfg"  # read after Debian's own datasource_list


def test_the_snippet_ships_inside_the_package() -> None:
    shipped = Path(azimds.cloudinit.__file__).with_name(SNIPPET_NAME)
    assert shipped.read_text(encoding="utf-8") == snippet()


def test_python_m_azimds_cloudinit_prints_the_snippet() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "azimds.cloudinit"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == snippet()


# --- the datasource module where cloud-init runs ---------------------------------------------

LOADED = """
import json, sys
import azimds.cloudinit.DataSourceAzureImds as module
print(json.dumps({
    "azimds": sorted(m for m in sys.modules if m.startswith("azimds")),
    "lister": [c.__name__ for c in module.get_datasource_list(["FILESYSTEM", "NETWORK"])],
    "local": [c.__name__ for c in module.get_datasource_list(["FILESYSTEM"])],
}))
"""


@pytest.mark.parametrize("release", RELEASES, ids=RELEASE_IDS)
def test_the_datasource_module_needs_only_the_shipped_core(release: Any) -> None:
    require()
    done = subprocess.run(
        [sys.executable, "-c", LOADED],
        capture_output=True,
        text=True,
        timeout=60,
        env=release.environment(),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    packages = {name.split(".")[1] for name in report["azimds"] if "." in name}
    assert packages == {"imds", "facts", "cloudinit"}
    assert report["lister"] == ["DataSourceAzureImds"]
    assert report["local"] == []


# --- make demo's cloud-init section --------------------------------------------------------------


def test_the_demo_shows_real_cloud_init_querying_the_datasource(
    imds: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require()
    monkeypatch.setenv("AZIMDS_DEMO_CLOUD_INIT", str(RELEASES[0].python_path))
    monkeypatch.setattr(demo, "PAUSE", 0)
    demo.cloud_init(imds)
    shown = capsys.readouterr().out
    assert f"cloud-init {RELEASES[0].upstream}: found DataSourceAzureImds" in shown
    assert "$ cloud-init query availability_zone\n     1\n" in shown
    assert "$ cloud-init query ds.meta_data.tags.Environment\n     Prod\n" in shown
    assert '"vm-size": "Standard_D2s_v5"' in shown
    assert {r.path for r in imds.requests} == {"/metadata/instance"}


def test_the_demo_says_when_there_is_no_cloud_init(
    imds: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZIMDS_DEMO_CLOUD_INIT", "/nonexistent")
    demo.cloud_init(imds)
    assert "skipped: no cloud-init to run" in capsys.readouterr().out
    assert imds.requests == []


# --- fetching the packages ---------------------------------------------------------------------

FETCH = Path(__file__).with_name("cloud_init_packages.py")


@pytest.mark.parametrize(("ci", "code"), [("", 0), ("true", 1)])
def test_without_apt_get_the_fetch_skips_visibly_or_fails_in_ci(
    tmp_path: Path, ci: str, code: int
) -> None:
    env = {"PATH": str(tmp_path / "no-tools"), "CI": ci}
    done = subprocess.run(
        [sys.executable, str(FETCH), "--cache", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == code
    assert "cloud-init packages: SKIPPED, apt-get and dpkg and dpkg-deb not found" in done.stderr
    assert not (tmp_path / "cache").exists()


def test_an_empty_cache_has_no_newest(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(FETCH), "--cache", str(tmp_path), "--newest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "\n")
