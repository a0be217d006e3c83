"""A real salt-master and three salt-minions, each minion on its own emulated VM.

All of it runs in one private network (loopback only): the master listens on 127.0.0.1, keys
are accepted automatically, every path is under a temporary folder. The VMs:

    minion  zone  fault domain  Environment   endpoint given by
    vm-a    1     0             Prod          minion config
    vm-b    1     1             Prod          minion config
    vm-c    2     0             Dev           AZIMDS_ENDPOINT
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from azimds import salt_minion
from azimds.emulator import sandbox
from azimds.emulator.netns import PrivateNetwork
from salt_support import write_profile

pytestmark = pytest.mark.netns

BIN = Path(sys.executable).parent
PUBLISH_PORT, RET_PORT = 4505, 4506  # the namespace is private: Salt's own ports are free
VMS = {
    "vm-a": {
        "zone": "1",
        "platformFaultDomain": "0",
        "tags": {"Environment": "Prod", "team:owner": "ops"},
    },
    "vm-b": {"zone": "1", "platformFaultDomain": "1", "tags": {"Environment": "Prod"}},
    "vm-c": {"zone": "2", "platformFaultDomain": "0", "tags": {"Environment": "Dev"}},
}
VM_IDS = {
    "vm-a": "6b1f0a52-0c52-4d8b-9f49-2f0b6f0d6a01",
    "vm-b": "6b1f0a52-0c52-4d8b-9f49-2f0b6f0d6a02",
    "vm-c": "6b1f0a52-0c52-4d8b-9f49-2f0b6f0d6a03",
}


class Cluster:
    """The master's config folder and a way to run the ``salt`` command against it."""

    def __init__(self, network: PrivateNetwork, master_config: Path) -> None:
        self.network = network
        self.master_config = master_config

    def salt(self, *args: str, timeout: int = 30) -> Dict[str, Any]:
        """Run ``salt ARGS`` on the master; return the minions' answers (JSON, one document)."""
        command = [str(BIN / "salt"), "-c", str(self.master_config), "--out", "json", "--static"]
        done = self.network.run(
            [*command, "-t", str(timeout), *args],
            env=sandbox.environment(),
            capture_output=True,
            text=True,
            timeout=timeout + 60,
        )
        # salt exits non-zero when a targeted minion does not answer; the answers still count.
        try:
            answers: Dict[str, Any] = json.loads(done.stdout or "{}")
        except ValueError:
            raise AssertionError(f"salt {args}: {done.stdout} {done.stderr}") from None
        return answers


def master_settings(root: Path) -> Dict[str, Any]:
    return {
        "root_dir": str(root),
        "pki_dir": str(root / "pki"),
        "cachedir": str(root / "cache"),
        "sock_dir": str(root / "sock"),
        "log_file": str(root / "log" / "master"),
        "key_logfile": str(root / "log" / "key"),
        "log_level_logfile": "info",
        "interface": "127.0.0.1",
        "publish_port": PUBLISH_PORT,
        "ret_port": RET_PORT,
        "auto_accept": True,
        "worker_threads": 2,
        "file_roots": {"base": [str(root / "srv" / "salt")]},
        "pillar_roots": {"base": [str(root / "srv" / "pillar")]},
        "enable_fqdns_grains": False,
    }


def start_minion(
    network: PrivateNetwork, root: Path, name: str, base_url: str
) -> subprocess.Popen[Any]:
    by_environment = name == "vm-c"
    settings = salt_minion.minion_settings(
        root,
        minion_id=name,
        file_client="remote",
        master="127.0.0.1",
        master_port=RET_PORT,
        publish_port=PUBLISH_PORT,
        acceptance_wait_time=1,
        random_reauth_delay=0,
        mine_functions={"grains.item": ["azure"]},
        azure_imds={"timeout": 2} if by_environment else {"endpoint": base_url, "timeout": 2},
    )
    config = salt_minion.write_config(root, settings)
    env = sandbox.environment(base_url if by_environment else None)
    return network.popen(
        [str(BIN / "salt-minion"), "-c", str(config), "-l", "quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_minions(cluster: Cluster, names: List[str], within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    answered: Dict[str, Any] = {}
    while time.monotonic() < deadline:
        answered = cluster.salt("*", "test.ping", timeout=5)
        if sorted(name for name, ok in answered.items() if ok is True) == names:
            return
    raise AssertionError(f"minions answering after {within:g} s: {sorted(answered)}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    for name, compute in VMS.items():
        write_profile(tmp_path / "vms", name, vmId=VM_IDS[name], **compute)
    with PrivateNetwork() as network:
        fleet = sandbox.EmulatorProcess(
            ["fleet", str(tmp_path / "vms"), "--manifest", str(tmp_path / "fleet.json")], network
        ).start()
        urls = {vm["name"]: vm["base_url"] for vm in fleet.vms}
        master_root = tmp_path / "master"
        master_config = salt_minion.write_config(
            master_root, master_settings(master_root), "master"
        )
        network.popen(
            [str(BIN / "salt-master"), "-c", str(master_config), "-l", "quiet"],
            env=sandbox.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in VMS:
            start_minion(network, tmp_path / name, name, urls[name])
        cluster = Cluster(network, master_config)
        wait_for_minions(cluster, sorted(VMS))
        yield cluster  # closing the network stops the master, the minions and the emulator


@pytest.mark.timeout(300)
def test_targeting_by_zone_fault_domain_and_tags_and_the_mine(cluster: Cluster) -> None:
    assert sorted(cluster.salt("-G", "azure:zone:1", "test.ping")) == ["vm-a", "vm-b"]
    assert sorted(cluster.salt("-G", "azure:tags:Environment:Dev", "test.ping")) == ["vm-c"]
    compound = "G@azure:tags:Environment:Prod and G@azure:fault_domain:0"
    assert cluster.salt("-C", compound, "grains.get", "azure:vm_id") == {"vm-a": VM_IDS["vm-a"]}
    colon_in_name = cluster.salt("-C", "G|@azure|tags|team:owner|ops", "test.ping")
    assert colon_in_name == {"vm-a": True}

    # The mine: every minion publishes its azure grain; any minion can read the others'.
    assert cluster.salt("*", "mine.update") == {name: True for name in VMS}
    mined = cluster.salt("vm-c", "mine.get", "azure:zone:1", "grains.item", "tgt_type=grain")
    seen = {name: data["azure"]["vm_id"] for name, data in mined["vm-c"].items()}
    assert seen == {"vm-a": VM_IDS["vm-a"], "vm-b": VM_IDS["vm-b"]}
    assert {data["azure"]["zone"] for data in mined["vm-c"].values()} == {"1"}
