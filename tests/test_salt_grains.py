"""The azure_imds grains module through a real ``salt-call --local`` and an emulated VM.

Each test makes a private network (only loopback), starts the emulator in it, and runs
salt-call (Salt 3008, installed with the project) in it with every path under a temporary
folder. The module is found through the project's ``salt.loader`` entry point, as after
``pip install azimds``, unless a test copies it into a file root's ``_grains/``.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork
from azimds.salt_minion import local_result
from salt_support import (
    AUDITED_SALT_CALL,
    REPO,
    LocalMinion,
    azure_lines,
    emulator,
    private_network,
    write_profile,
)

pytestmark = pytest.mark.netns

# Short deadlines keep the tests that wait for an IMDS that does not answer short.
FAST = {"timeout": 1}


@pytest.fixture
def network() -> Iterator[PrivateNetwork]:
    yield from private_network()


@pytest.fixture
def vm(network: PrivateNetwork) -> sandbox.EmulatorProcess:
    """The emulator's default VM: jubilee, westus, zone 1, fault domain 1, Environment=Prod."""
    return emulator(network)


@pytest.fixture
def minion(network: PrivateNetwork, tmp_path: Path) -> LocalMinion:
    return LocalMinion(network, tmp_path / "minion", azure_imds=FAST)


def salt_shape(network: PrivateNetwork, vm: sandbox.EmulatorProcess) -> Dict[str, Any]:
    """Return ``azimds facts --for salt`` of ``vm``: the core's Salt shape, asked separately."""
    facts = network.run(
        [sys.executable, "-m", "azimds", "facts", "--for", "salt", "-o", "json"],
        env=sandbox.environment(vm.base_url),
        capture_output=True,
        text=True,
    )
    assert facts.returncode == 0, facts.stderr
    shape: Dict[str, Any] = json.loads(facts.stdout)
    return shape


def test_grains_get_azure_zone_and_the_whole_grain_is_the_salt_shape(
    minion: LocalMinion, vm: sandbox.EmulatorProcess, network: PrivateNetwork
) -> None:
    assert minion.result("grains.get", "azure:zone", endpoint=vm.base_url) == "1"
    grain = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert grain.pop("stale") is False
    assert grain == salt_shape(network, vm)  # the shape itself: no second translation
    assert (grain["location"], grain["fault_domain"], grain["update_domain"]) == ("westus", 1, 1)
    assert grain["vm_id"] == "13f56399-bd52-4150-9748-7190aae1ff21"
    assert grain["tags"] == {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"}
    assert "user_data" not in grain and "custom_data" not in grain


def test_match_grain_targets_zone_fault_domain_and_tags(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    expectations = {
        "azure:tags:Environment:Prod": True,
        "azure:tags:Environment:Dev": False,
        "azure:zone:1": True,
        "azure:zone:2": False,
        "azure:fault_domain:1": True,
        "azure:fault_domain:0": False,
        "azure:location:west*": True,
        "azure:stale:False": True,
    }
    seen = minion.match_grains(*expectations, endpoint=vm.base_url)
    assert dict(zip(expectations, seen)) == expectations
    assert minion.result("match.grain", "azure:tags:Environment:Prod", endpoint=vm.base_url) is True
    assert vm.instance_requests() == 1  # one fetch, then the cache


def test_a_cache_hit_needs_no_imds(minion: LocalMinion, vm: sandbox.EmulatorProcess) -> None:
    first = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert vm.instance_requests() == 1
    assert minion.cache_file.stat().st_mode & 0o077 == 0  # owner only
    vm.stop()  # nothing listens at the endpoint any more
    again = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert again == first and again["stale"] is False
    assert azure_lines(minion.log) == []


def test_the_cache_lifetime_and_refresh_grains_cache_decide_when_imds_is_asked(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    minion.result("grains.get", "azure:zone", endpoint=vm.base_url)
    assert vm.instance_requests() == 1
    minion.result("grains.get", "azure:zone", "--refresh-grains-cache", endpoint=vm.base_url)
    assert vm.instance_requests() == 2
    minion.reconfigure(azure_imds={**FAST, "cache_lifetime": 0})
    minion.result("grains.get", "azure:zone", endpoint=vm.base_url)
    assert vm.instance_requests() == 3


def test_a_maintenance_window_serves_the_last_known_grain_marked_stale(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    fresh = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    vm.control("POST", "/azimds/faults", {"kind": "status", "status": 410, "seconds": 70})
    minion.reconfigure(azure_imds={**FAST, "cache_lifetime": 0})  # so it must ask IMDS
    stale = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert stale.pop("stale") is True
    fresh.pop("stale")
    assert stale == fresh
    statuses = [r["status"] for r in vm.control("GET", "/azimds/requests")["requests"]]
    assert statuses[0] == 200 and statuses[1:] and set(statuses[1:]) == {410}
    (warning,) = azure_lines(minion.log)
    assert "WARNING" in warning and "HTTP 410" in warning and "marked azure:stale" in warning


def test_a_maintenance_window_with_nothing_cached_skips_only_the_azure_grain(
    minion: LocalMinion, network: PrivateNetwork
) -> None:
    gone = emulator(network, "--fault", json.dumps({"kind": "status", "status": 410}))
    grains = minion.result("grains.items", endpoint=gone.base_url)
    assert "azure" not in grains
    assert grains["kernel"] == "Linux" and grains["id"] == "azimds-sandbox"
    (warning,) = azure_lines(minion.log)
    assert "WARNING" in warning and "no azure grain this time" in warning
    assert "Traceback" not in minion.log
    assert not minion.cache_file.exists()


def test_off_azure_the_module_sends_nothing_and_adds_no_socket_operation(
    network: PrivateNetwork, tmp_path: Path
) -> None:
    def audited(name: str, **settings: Any) -> tuple[list[Any], Dict[str, Any], LocalMinion]:
        minion = LocalMinion(network, tmp_path / name, **settings)
        events = tmp_path / f"{name}-events.json"
        command = [sys.executable, str(AUDITED_SALT_CALL), str(events), "--local"]
        command += ["-c", str(minion.config), "--out", "json", "grains.items"]
        done = network.run(command, env=sandbox.environment(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(events.read_text()), local_result(done), minion

    with_module, grains, minion = audited("with")
    without_module, baseline, _ = audited("without", disable_grains=["azure_imds"])
    assert "azure" not in grains
    assert set(grains) == set(baseline)
    # The module adds not one socket operation to what Salt itself does.
    assert with_module == without_module
    assert not any(event in ("socket.connect", "socket.sendto") for event, _ in with_module)
    assert not (minion.root / "cache" / "azure_imds").exists()


def test_disabled_in_the_minion_config_means_no_grain_and_no_request(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    minion.reconfigure(azure_imds={"enabled": False})
    grains = minion.result("grains.items", endpoint=vm.base_url)
    assert "azure" not in grains and "kernel" in grains
    assert vm.instance_requests() == 0


HOSTILE_TAGS = {
    "Environment": "Prod",
    "a:b": "c:d",
    "Url": "http://example.invalid:8080/x;y=z",
    "Umgebung": "Prüfung ✓",
    "環境": "本番",
    "Empty": "",
    "with space": " padded ",
}


def test_hostile_tags_arrive_intact_and_can_be_targeted(
    minion: LocalMinion, network: PrivateNetwork, tmp_path: Path
) -> None:
    profile = write_profile(tmp_path / "vms", "hostile", tags=HOSTILE_TAGS)
    vm = emulator(network, "--profile", str(profile))
    assert minion.result("grains.get", "azure:tags", endpoint=vm.base_url) == HOSTILE_TAGS
    expectations = {
        "azure:tags:Environment:Prod": True,
        "azure:tags:Url:http://example.invalid:8080/x;y=z": True,
        "azure:tags:Umgebung:Prüfung ✓": True,
        "azure:tags:環境:本番": True,
        "azure:tags:with space: padded ": True,
        "azure:tags:Umgebung:Prufung ✓": False,
        "azure:tags:Empty:": True,
        "azure:tags:Empty:*": True,
    }
    seen = minion.match_grains(*expectations, endpoint=vm.base_url)
    assert dict(zip(expectations, seen)) == expectations
    # A tag name holding the delimiter is reached with another delimiter, as Salt documents.
    tricky = minion.match_grains(
        "azure|tags|a:b|c:d", "azure|tags|a:b|c", delimiter="|", endpoint=vm.base_url
    )
    assert tricky == [True, False]
    assert vm.instance_requests() == 1


def test_user_data_only_when_asked_and_never_in_the_log(
    minion: LocalMinion, network: PrivateNetwork, tmp_path: Path
) -> None:
    secret = "db-password=hunter2"
    encoded = base64.b64encode(secret.encode()).decode()
    profile = write_profile(tmp_path / "vms", "secretive", userData=encoded)
    vm = emulator(network, "--profile", str(profile))
    assert "user_data" not in minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert (
        secret not in minion.cache_file.read_text() and encoded not in minion.cache_file.read_text()
    )
    minion.reconfigure(azure_imds={**FAST, "include_user_data": True})
    grain = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert grain["user_data"] == {"text": secret, "base64": encoded}
    assert vm.instance_requests() == 2  # a cache made without user data does not answer
    assert secret not in minion.log and encoded not in minion.log


def test_undecodable_user_data_is_a_warning_and_every_other_fact_is_served(
    minion: LocalMinion, network: PrivateNetwork, tmp_path: Path
) -> None:
    secret = "db-password=hunter2"
    tags = [{"name": "Environment", "value": "Prod"}, {"name": "environment", "value": "Dev"}]
    profile = write_profile(tmp_path / "vms", "odd", userData=f"{secret}!!", tagsList=tags)
    vm = emulator(network, "--profile", str(profile))
    minion.reconfigure(azure_imds={**FAST, "include_user_data": True})
    grain = minion.result("grains.item", "azure", endpoint=vm.base_url)["azure"]
    assert grain.pop("stale") is False
    assert grain.pop("user_data") is None and grain.pop("custom_data") is None
    assert grain == salt_shape(network, vm)  # every fact, as azimds reads this document
    assert (grain["zone"], grain["fault_domain"], grain["name"]) == ("1", 1, "odd")
    assert grain["tags"] == {"Environment": "Prod", "environment": "Dev"}
    user_data, tag = azure_lines(minion.log)  # one line each
    assert "[WARNING" in user_data and "[WARNING" in tag
    assert "azure_imds: compute.userData is not valid base64 (value not shown)" in user_data
    assert "azure_imds: tagsList: tags 'Environment' and 'environment' differ only" in tag
    assert grain["field_warnings"] and grain["tag_warnings"]
    for seen in (minion.log, minion.cache_file.read_text(), json.dumps(grain)):
        assert secret not in seen


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ({"timeout": "soon"}, "azure_imds:timeout must be a number of seconds above 0"),
        (["enabled"], "azure_imds must be a mapping of settings, not ['enabled']"),
    ],
    ids=["bad-value", "not-a-mapping"],
)
def test_bad_configuration_is_one_log_line_and_every_other_grain_loads(
    minion: LocalMinion, vm: sandbox.EmulatorProcess, section: Any, said: str
) -> None:
    """Every kind of bad setting is in test_salt_settings.py; two go through Salt here."""
    minion.reconfigure(azure_imds=section)
    done = minion.call("grains.items", endpoint=vm.base_url)
    assert done.returncode == 0, done.stderr
    grains = local_result(done)
    assert "azure" not in grains
    assert grains["kernel"] == "Linux" and "os_family" in grains and "ip_interfaces" in grains
    (line,) = azure_lines(minion.log)
    assert "[ERROR" in line and said in line, line
    assert "skipped until the minion config is fixed" in line
    assert "Traceback" not in minion.log + done.stderr
    assert vm.instance_requests() == 0


def test_a_bad_azimds_disable_value_is_one_log_line_too(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    done = minion.call("grains.items", endpoint=vm.base_url, extra_env={"AZIMDS_DISABLE": "maybe"})
    assert "azure" not in local_result(done) and "kernel" in local_result(done)
    (line,) = azure_lines(minion.log)
    assert "AZIMDS_DISABLE='maybe' is neither true" in line
    assert vm.instance_requests() == 0


def test_copied_into_a_file_root_and_synced_with_saltutil(
    minion: LocalMinion, vm: sandbox.EmulatorProcess
) -> None:
    grains_root = minion.root / "srv" / "salt" / "_grains"
    grains_root.mkdir(parents=True)
    shutil.copy(REPO / "salt_grains" / "azure_imds.py", grains_root / "azure_imds.py")
    synced = minion.result("saltutil.sync_grains", endpoint=vm.base_url)
    assert synced == ["grains.azure_imds"]
    copy = minion.root / "extmods" / "grains" / "azure_imds.py"
    assert copy.read_bytes() == (REPO / "src/azimds/saltext/grains/azure_imds.py").read_bytes()
    assert minion.result("grains.get", "azure:zone", endpoint=vm.base_url) == "1"


def test_the_real_default_endpoint_in_a_private_network(tmp_path: Path) -> None:
    """No endpoint anywhere: the Azure asset tag leads detection to 169.254.169.254:80."""
    with PrivateNetwork(imds_address=True) as network:
        imds = sandbox.EmulatorProcess(
            ["serve", "--host", "169.254.169.254", "--port", "80", "--allow-address"], network
        ).start()
        assert imds.base_url == "http://169.254.169.254"
        minion = LocalMinion(network, tmp_path / "minion")
        on_azure = str(sandbox.fake_dmi(tmp_path / "dmi"))
        assert minion.result("grains.get", "azure:zone", dmi_dir=on_azure) == "1"
        assert imds.instance_requests() == 1
        assert json.loads(minion.cache_file.read_text())["endpoint"] == "http://169.254.169.254"
