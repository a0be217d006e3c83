"""Fleets: one emulator process serving many VMs, each at its own base URL."""

from __future__ import annotations

import collections
import http.client
import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from azimds.emulator import Emulator, ProfileError
from azimds.emulator.fleet import generate_fleet, load_fleet

SPEC = {
    "seed": 11,
    "locations": {"westus2": 600, "eastus": 400},
    "zones": ["1", "2", "3"],
    "fault_domains": 3,
    "update_domains": 5,
    "sizes": {"Standard_D2s_v5": 3, "Standard_E4s_v5": 1},
    "tags": {"Environment": {"prod": 6, "dev": 4}, "Role": ["web", "db", "cache"]},
    "scale_sets": {"count": 4, "share": 0.5},
}


def get_text(base_url: str, node: str) -> str:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request(
        "GET",
        f"/metadata/instance/compute/{node}?api-version=2021-02-01&format=text",
        headers={"Metadata": "true"},
    )
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 200, body
    return body


def test_a_fleet_of_1000_vms_each_base_url_serves_its_own_vm(tmp_path: Path) -> None:
    profiles = generate_fleet(SPEC)
    assert len(profiles) == 1000
    assert len({p.vm_id for p in profiles}) == 1000
    with Emulator(profiles) as emulator:
        manifest_path = tmp_path / "fleet.json"
        emulator.write_manifest(manifest_path)
        manifest = json.loads(manifest_path.read_text())["vms"]
        assert len(manifest) == 1000
        assert len({vm["base_url"] for vm in manifest}) == 1000
        for entry in manifest:
            assert get_text(entry["base_url"], "vmId") == entry["vmId"]
        # Spot-check a few more fields per VM: they come from that VM's own profile.
        for entry in manifest[::97]:
            assert get_text(entry["base_url"], "name") == entry["name"]
            assert get_text(entry["base_url"], "location") == entry["location"]


def test_fleet_spec_distributions_are_as_asked() -> None:
    profiles = generate_fleet(SPEC)
    computes = [p.instance["compute"] for p in profiles]
    assert collections.Counter(c["location"] for c in computes) == {"westus2": 600, "eastus": 400}
    zones = collections.Counter((c["location"], c["zone"]) for c in computes)
    assert zones[("westus2", "1")] == zones[("westus2", "2")] == zones[("westus2", "3")] == 200
    assert {c["platformFaultDomain"] for c in computes} == {"0", "1", "2"}
    assert {c["platformUpdateDomain"] for c in computes} == {"0", "1", "2", "3", "4"}
    prod = sum(1 for c in computes if c["tagsList"][0] == {"name": "Environment", "value": "prod"})
    assert 520 <= prod <= 680  # weight 6 of 10
    in_sets = [c for c in computes if c["vmScaleSetName"]]
    assert 400 <= len(in_sets) <= 600
    assert len({c["vmScaleSetName"] for c in in_sets}) == 4
    assert all("/virtualMachineScaleSets/" in c["resourceId"] for c in in_sets)
    assert len({p.instance["network"]["interface"][0]["macAddress"] for p in profiles}) == 1000
    # Deterministic: the same seed gives the same fleet.
    assert [p.vm_id for p in generate_fleet(SPEC)] == [p.vm_id for p in profiles]


def test_fleet_on_loopback_addresses_shares_one_port() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    profiles = generate_fleet({"locations": {"westus": 50}, "seed": 2})
    with Emulator(profiles, host="127.0.0.1", port=port, addressing="addresses") as emulator:
        urls = [vm.base_url for vm in emulator.vms]
        assert urls[0] == f"http://127.0.0.1:{port}"
        assert urls[49] == f"http://127.0.0.50:{port}"
        for vm in emulator.vms[::7]:
            assert get_text(vm.base_url, "name") == vm.profile.name


def test_fleet_from_a_directory_of_profiles(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("compute: {name: alpha, vmId: 1111, location: eastus}\n")
    (tmp_path / "b.json").write_text(json.dumps({"compute": {"name": "beta", "zone": 2}}))
    (tmp_path / "notes.txt").write_text("not a profile")
    profiles = load_fleet(tmp_path)
    assert [p.name for p in profiles] == ["alpha", "beta"]
    assert profiles[1].instance["compute"]["zone"] == "2"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"locations": {"westus": -1}}, "locations.westus"),
        ({"sizes": {"a": "x"}}, "weights under 'sizes'"),
        ({"tags": ["Environment"]}, "'tags' must map"),
        ({"zone": ["1"]}, "unknown key(s) ['zone']"),
        ({"fault_domains": 0}, "'fault_domains' must be a whole number"),
    ],
)
def test_bad_fleet_specs_say_what_is_wrong(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=None) as caught:
        generate_fleet(spec)
    assert message in str(caught.value)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no profile files"):
        load_fleet(tmp_path)
