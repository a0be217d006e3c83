"""Salt's real loader (``salt.loader.grains`` with real minion opts) finds and runs azure_imds.

The loader runs in salt_loader_probe.py, in a private network with the emulator (Salt's core
grains look names up; only there can nothing leave the machine).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork
from salt_support import (
    LOADER_PROBE,
    REPO,
    LocalMinion,
    emulator,
    private_network,
    run_python,
)

pytestmark = pytest.mark.netns

PACKAGED = REPO / "src" / "azimds" / "saltext" / "grains" / "azure_imds.py"


@pytest.fixture
def network() -> Iterator[PrivateNetwork]:
    yield from private_network()


def probe(network: PrivateNetwork, minion: LocalMinion, *uuids: str, endpoint: str) -> Any:
    done = run_python(
        network,
        LOADER_PROBE,
        str(minion.config),
        *uuids,
        env=sandbox.environment(endpoint),
    )
    assert done.returncode == 0, done.stderr
    report: Dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_entry_point_gives_the_loader_the_packaged_module(
    network: PrivateNetwork, tmp_path: Path
) -> None:
    vm = emulator(network)
    minion = LocalMinion(network, tmp_path / "minion")
    report = probe(network, minion, endpoint=vm.base_url)
    assert Path(report["module_file"]).resolve() == PACKAGED
    assert report["kernel"] == "Linux"
    assert report["azure"]["zone"] == "1" and report["azure"]["stale"] is False
    # One source: the file in salt_grains/ users copy is this very file.
    assert (REPO / "salt_grains" / "azure_imds.py").resolve() == PACKAGED


def test_a_synced_copy_in_extension_modules_is_loaded_first(
    network: PrivateNetwork, tmp_path: Path
) -> None:
    vm = emulator(network)
    minion = LocalMinion(network, tmp_path / "minion")
    synced = Path(minion.settings["extension_modules"]) / "grains" / "azure_imds.py"
    synced.parent.mkdir(parents=True)
    shutil.copy(REPO / "salt_grains" / "azure_imds.py", synced)
    report = probe(network, minion, endpoint=vm.base_url)
    assert report["module_file"] == str(synced)
    assert report["azure"]["fault_domain"] == 1


def test_the_loader_passes_core_grains_and_the_uuid_grain_guards_the_cache(
    network: PrivateNetwork, tmp_path: Path
) -> None:
    vm = emulator(network)
    minion = LocalMinion(network, tmp_path / "minion")
    this_vm = "13f56399-bd52-4150-9748-7190aae1ff21"
    other_vm = "0b5b3b2e-8c9c-4d3e-9f57-7d1f3c5e2a10"
    report = probe(network, minion, this_vm, other_vm, endpoint=vm.base_url)
    assert [call["azure"]["vm_id"] for call in report["calls"]] == [this_vm, this_vm]
    # The full load fetched once; this VM's UUID used the cache; another VM's refetched.
    assert vm.instance_requests() == 2


def test_off_azure_the_loader_skips_the_module(network: PrivateNetwork, tmp_path: Path) -> None:
    minion = LocalMinion(network, tmp_path / "minion")
    done = run_python(network, LOADER_PROBE, str(minion.config), env=sandbox.environment())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {"azure": None, "kernel": "Linux", "module_file": None, "calls": []}
