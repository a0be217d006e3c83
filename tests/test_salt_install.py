"""``pip install azimds`` next to Salt 3006, 3007 and 3008: the grain with no file copied.

Each Salt release has its own virtual environment (built once, cached under .cache/; see
salt_venvs.py). The wheel of this checkout is built and installed into each (not editable), then
in a private network with an emulated VM:

- the ``salt.loader`` entry point alone makes Salt load azure_imds from site-packages;
- the same file copied into a file root's ``_grains/`` and synced with ``saltutil.sync_grains``
  is loaded instead, from the minion's extension modules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import salt_venvs
from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork
from salt_support import LOADER_PROBE, REPO, LocalMinion, emulator

pytestmark = pytest.mark.netns

SOURCE = REPO / "src" / "azimds" / "saltext" / "grains" / "azure_imds.py"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The azimds wheel of this checkout, built once for the three releases."""
    return salt_venvs.build_wheel(salt_venvs.venv("3008"), tmp_path_factory.mktemp("wheel"))


def probe(network: PrivateNetwork, venv: Path, minion: LocalMinion, endpoint: str) -> Any:
    done = network.run(
        [str(venv / "bin" / "python"), str(LOADER_PROBE), str(minion.config)],
        env=sandbox.environment(endpoint),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.timeout(1800)  # the first run builds the venvs
@pytest.mark.parametrize("release", ["3008", "3006", "3007"])
def test_pip_install_then_the_grain_and_the_copied_file_both_work(
    release: str, wheel: Path, tmp_path: Path
) -> None:
    venv = salt_venvs.venv(release)
    salt_venvs.install_wheel(venv, wheel)
    bin_dir = venv / "bin"
    with PrivateNetwork() as network:
        vm = emulator(network)
        minion = LocalMinion(network, tmp_path / "minion")
        url = vm.base_url
        assert minion.result("test.version", bin_dir=bin_dir).startswith(release + ".")

        # Installed: found through the entry point, from site-packages, nothing copied.
        assert minion.result("grains.get", "azure:zone", endpoint=url, bin_dir=bin_dir) == "1"
        loaded = Path(probe(network, venv, minion, url)["module_file"])
        assert loaded.is_relative_to(venv) and "site-packages" in loaded.parts
        assert not loaded.is_symlink() and loaded.read_bytes() == SOURCE.read_bytes()

        # Copied into _grains/ and synced: that copy is what Salt loads.
        grains_root = minion.root / "srv" / "salt" / "_grains"
        grains_root.mkdir(parents=True)
        shutil.copy(REPO / "salt_grains" / "azure_imds.py", grains_root)
        synced = minion.result("saltutil.sync_grains", endpoint=url, bin_dir=bin_dir)
        assert synced == ["grains.azure_imds"]
        report = probe(network, venv, minion, url)
        assert report["module_file"] == str(minion.root / "extmods" / "grains" / "azure_imds.py")
        assert report["azure"]["tags"]["Environment"] == "Prod"
        assert report["azure"]["stale"] is False
        assert vm.instance_requests() == 1  # every load after the first read the cache
