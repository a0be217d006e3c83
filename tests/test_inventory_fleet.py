"""A 1,000-VM fleet from ``azimds emulator fleet``, grouped by the endpoints source.

The emulator command serves the fleet on loopback (one port per VM) and writes its manifest;
the inventory reads that manifest. Each VM's groups are compared with the fleet's own truth,
the manifest's entry for it (location, zone, fault and update domain, size, resource group,
scale set, tags). A playbook then targets one zone's production hosts.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, Set

import pytest
import yaml

import inventory_support as inv
from azimds.emulator.sandbox import EmulatorProcess

pytestmark = pytest.mark.timeout(600)

SPEC: Dict[str, Any] = {
    "seed": 11,
    "locations": {"westus2": 600, "eastus": 400},
    "zones": ["1", "2", "3", ""],  # every fourth VM has no zone
    "fault_domains": 3,
    "update_domains": 5,
    "sizes": {"Standard_D2s_v5": 3, "Standard_E4s_v5": 1},
    "tags": {"Environment": {"prod": 3, "dev": 7}, "Role": ["web", "db", "cache"]},
    "scale_sets": {"count": 4, "share": 0.3},
    "resource_group": "fleet-rg",
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """Run ``azimds emulator fleet``; yield its folder and its manifest's VMs."""
    workdir = tmp_path_factory.mktemp("fleet")
    spec = workdir / "fleet.yaml"
    spec.write_text(yaml.safe_dump(SPEC), "utf-8")
    manifest = workdir / "azimds-fleet.json"
    arguments = ["fleet", str(spec), "--manifest", str(manifest), "--quiet"]
    with EmulatorProcess(arguments, stderr=subprocess.PIPE) as server:
        yield {"workdir": workdir, "vms": server.vms}


def expected_groups(vm: Dict[str, Any]) -> Set[str]:
    """The groups of one VM, from its manifest entry."""
    found = {
        "azure_imds",
        f"azure_location_{vm['location']}",
        f"azure_size_{vm['vmSize']}",
        f"azure_resource_group_{inv.safe(vm['resourceGroupName'])}",
        f"azure_fault_domain_{vm['platformFaultDomain']}",
        f"azure_update_domain_{vm['platformUpdateDomain']}",
    }
    if vm["zone"]:
        found.add(f"azure_zone_{vm['zone']}")
    if vm["vmScaleSetName"]:
        found.add(f"azure_scale_set_{inv.safe(vm['vmScaleSetName'])}")
    for name, value in vm["tags"].items():
        found.add(f"azure_tag_{name.lower()}_{value}")
    return found


def test_a_thousand_vms_are_grouped_as_the_fleet_says(fleet: Dict[str, Any]) -> None:
    workdir: Path = fleet["workdir"]
    config = inv.write_config(
        workdir, source="endpoints", endpoints=["azimds-fleet.json"], hostnames=["name"]
    )
    result = inv.inventory(config, inv.environment(workdir))
    listing = result.listing()
    assert result.warnings() == []
    hostvars = inv.hostvars(listing)
    by_vm_id = {facts["azure_imds"]["vm_id"]: host for host, facts in hostvars.items()}
    assert len(fleet["vms"]) == 1000 and len(by_vm_id) == 1000
    memberships = inv.groups_by_host(listing)
    zoneless = 0
    for vm in fleet["vms"]:
        host = by_vm_id[vm["vmId"]]
        assert host == vm["name"]
        assert memberships[host] == expected_groups(vm), host
        zoneless += not vm["zone"]
    assert zoneless == 250
    assert not any(group.startswith("azure_zone_") and group[-1] == "_" for group in listing)


def test_a_playbook_on_zone_1_production_reaches_exactly_those_hosts(
    fleet: Dict[str, Any],
) -> None:
    workdir: Path = fleet["workdir"]
    config = inv.write_config(
        workdir,
        "play.azure_imds.yml",
        source="endpoints",
        endpoints=["azimds-fleet.json"],
        hostnames=["name"],
    )
    expected = {
        vm["name"]
        for vm in fleet["vms"]
        if vm["zone"] == "1" and vm["tags"]["Environment"] == "prod"
    }
    assert 20 < len(expected) < 150
    play = [
        {
            "hosts": "azure_zone_1:&azure_tag_environment_prod",
            "gather_facts": False,
            "tasks": [{"name": "reach the host", "ansible.builtin.raw": "true"}],
        }
    ]
    (workdir / "play.yml").write_text(json.dumps(play), "utf-8")
    env = inv.environment(workdir, {"ANSIBLE_FORKS": "20"})
    argv = ["ansible-playbook", "-i", str(config), "play.yml", "--connection", "local"]
    listed = inv.run([*argv, "--list-hosts"], workdir, env)
    assert listed.returncode == 0, listed.output
    assert set(re.findall(r"^ {6}(\S+)$", listed.stdout, re.M)) == expected
    played = inv.run(argv, workdir, env)
    assert played.returncode == 0, played.output
    recap = played.stdout.split("PLAY RECAP")[1]
    reached = set(re.findall(r"^(\S+)\s+: ok=1 ", recap, re.M))
    assert reached == expected
    assert len(re.findall(r"^\S+\s+: ok=", recap, re.M)) == len(expected)
