"""The azure_imds inventory's four sources, each through a real ansible-inventory run.

A small fleet of emulated VMs (in this process, on loopback) is the truth: the endpoints source
fetches it, the metadata_facts module gathers it into a jsonfile fact cache for the fact_cache
source, and its documents are written to files for the documents source. The local source
runs inside a private network namespace where the emulator is 169.254.169.254.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, Set

import pytest

import ansible_support as support
import inventory_support as inv
from azimds.emulator import Emulator, sandbox
from azimds.imds import versions

pytestmark = pytest.mark.timeout(300)

# name -> (compute overrides, primary private IP); the fleet every test here reads.
VMS: Dict[str, Any] = {
    "web1": (
        {
            "zone": "1",
            "platformFaultDomain": "0",
            "platformUpdateDomain": "0",
            "vmSize": "Standard_D2s_v5",
            "resourceGroupName": "rg-web",
            "tags": {"Environment": "prod", "Role": "web"},
        },
        "10.9.0.11",
    ),
    "web2": (
        {
            "zone": "2",
            "platformFaultDomain": "1",
            "platformUpdateDomain": "3",
            "vmSize": "Standard_D2s_v5",
            "resourceGroupName": "rg-web",
            "tags": {"Environment": "dev", "Role": "web"},
        },
        "10.9.0.12",
    ),
    "batch-0": (
        {
            "zone": "",
            "platformFaultDomain": "2",
            "platformUpdateDomain": "4",
            "vmSize": "Standard_E4s_v5",
            "resourceGroupName": "rg-batch",
            "vmScaleSetName": "batch-vmss",
            "tags": {"Environment": "prod"},
        },
        "10.9.0.13",
    ),
}


def vm_profile(name: str) -> Any:
    compute, address = VMS[name]
    vm_id = f"00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}"
    return inv.profile(
        {**compute, "name": name, "vmId": vm_id, "osProfile": {"computerName": name}}, address
    )


def expected_groups(name: str) -> Set[str]:
    """The groups a VM of VMS belongs to, written out from its profile."""
    compute, _ = VMS[name]
    found = {
        "azure_imds",
        f"azure_location_{vm_profile(name).instance['compute']['location']}",
        f"azure_fault_domain_{compute['platformFaultDomain']}",
        f"azure_update_domain_{compute['platformUpdateDomain']}",
        f"azure_size_{compute['vmSize']}",
        f"azure_resource_group_{inv.safe(compute['resourceGroupName'])}",
    }
    if compute["zone"]:
        found.add(f"azure_zone_{compute['zone']}")
    if compute.get("vmScaleSetName"):
        found.add(f"azure_scale_set_{inv.safe(compute['vmScaleSetName'])}")
    for tag, value in compute["tags"].items():
        found.add(f"azure_tag_{tag.lower()}_{value}")
    return found


@pytest.fixture(scope="module")
def fleet() -> Iterator[Dict[str, str]]:
    """Serve the VMS on loopback; yield {name: base URL}."""
    with Emulator([vm_profile(name) for name in VMS]) as emulator:
        yield {vm.profile.name: vm.base_url for vm in emulator.vms}


def test_endpoints_source_groups_each_vm_and_reports_the_one_that_does_not_answer(
    tmp_path: Path, fleet: Dict[str, str]
) -> None:
    dead = f"http://127.0.0.1:{inv.free_port()}"
    config = inv.write_config(
        tmp_path, source="endpoints", endpoints=[*fleet.values(), dead], timeout=2
    )
    result = inv.inventory(config, inv.environment(tmp_path))
    listing = result.listing()
    assert inv.groups_by_host(listing) == {name: expected_groups(name) for name in VMS}
    hostvars = inv.hostvars(listing)
    for name, (_, address) in VMS.items():
        assert hostvars[name]["ansible_host"] == address
        assert hostvars[name]["azure_imds"]["endpoint"] == fleet[name]
        assert hostvars[name]["azure_imds"]["name"] == name
    warnings = result.warnings()
    assert len(warnings) == 1 and warnings[0].startswith(f"azure_imds: {dead}: "), warnings


@pytest.fixture(scope="module")
def gathered(tmp_path_factory: pytest.TempPathFactory, fleet: Dict[str, str]) -> Path:
    """Gather facts with metadata_facts into a jsonfile fact cache; return the cache folder.

    Besides the VMS, the host "laptop" is no Azure VM (no endpoint, no DMI data): its facts
    say IMDS is not available.
    """
    workdir = tmp_path_factory.mktemp("gather")
    cache = workdir / "facts"
    settings = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)}
    inv.gather(workdir, {**fleet, "laptop": None}, settings)
    return cache


def fact_cache_env(workdir: Path, cache: Path) -> Dict[str, str]:
    return inv.environment(
        workdir, {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)}
    )


def test_fact_cache_source_builds_the_hosts_the_module_gathered(
    tmp_path: Path, gathered: Path, fleet: Dict[str, str]
) -> None:
    config = inv.write_config(tmp_path)  # source: fact_cache is the default
    result = inv.inventory(config, fact_cache_env(tmp_path, gathered), "-v")
    listing = result.listing()
    assert inv.groups_by_host(listing) == {name: expected_groups(name) for name in VMS}
    assert result.warnings() == []
    assert "left out laptop: IMDS was not available" in result.stdout + result.stderr
    # The same facts as the endpoints source builds from the documents themselves.
    direct = inv.write_config(
        tmp_path, "direct.azure_imds.yml", source="endpoints", endpoints=list(fleet.values())
    )
    fetched = inv.hostvars(inv.inventory(direct, inv.environment(tmp_path)).listing())
    for name in VMS:
        assert inv.hostvars(listing)[name]["azure_imds"] == fetched[name]["azure_imds"]


def test_fact_cache_reports_corrupt_and_expired_entries_and_keeps_the_rest(
    tmp_path: Path, gathered: Path
) -> None:
    cache = tmp_path / "facts"
    cache.mkdir()
    for path in gathered.iterdir():
        (cache / path.name).write_bytes(path.read_bytes())
    corrupt = next(cache.glob("*web1"))
    corrupt.write_text('{"__payload__": "{not json', "utf-8")
    expired = next(cache.glob("*web2"))
    os.utime(expired, (1_000_000_000, 1_000_000_000))
    config = inv.write_config(tmp_path, fact_cache_timeout=86400)
    result = inv.inventory(config, fact_cache_env(tmp_path, cache))
    assert set(inv.hostvars(result.listing())) == {"batch-0"}
    warnings = result.warnings()
    assert any(
        w.startswith("azure_imds: web1: its fact cache entry cannot be read") for w in warnings
    )
    assert any(w.startswith("azure_imds: web2: its fact cache entry has expired") for w in warnings)


def test_fact_cache_source_refuses_the_memory_cache_with_what_to_do(tmp_path: Path) -> None:
    config = inv.write_config(tmp_path)
    env = inv.environment(tmp_path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    result = inv.inventory(config, env)
    assert result.returncode != 0
    assert "the fact cache is Ansible's 'memory' cache" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be more than 0 seconds, not 0"),
        ({"max_concurrency": 0}, "max_concurrency must be 1 or more"),
        ({"endpoints": ["missing.json"]}, "endpoints: cannot read the fleet manifest"),
        ({"endpoints": []}, "endpoints: give IMDS base URLs or a fleet manifest"),
    ],
)
def test_a_bad_endpoints_setting_is_one_line_saying_what_to_change(
    tmp_path: Path, options: Dict[str, Any], message: str
) -> None:
    settings = {"source": "endpoints", "endpoints": ["http://127.0.0.1:9"], **options}
    config = inv.write_config(tmp_path, **settings)
    env = inv.environment(tmp_path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    result = inv.inventory(config, env)
    assert result.returncode != 0
    assert f"{config}: {message}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def document_files(folder: Path) -> Dict[str, Any]:
    """Write the VMS as document files in three forms, plus three bad files."""
    folder.mkdir()
    newest = inv.document(vm_profile("web1"))
    (folder / "web1.json").write_text(json.dumps(newest), "utf-8")
    old = inv.document(vm_profile("web2"), "2019-02-01")
    (folder / "web2.json").write_text(json.dumps(old), "utf-8")
    wrapped = {"api_version": "2021-02-01", "document": inv.document(vm_profile("batch-0"))}
    (folder / "batch.json").write_text(json.dumps(wrapped), "utf-8")
    (folder / "broken.json").write_text('{"compute": ', "utf-8")
    (folder / "list.json").write_text("[1, 2]", "utf-8")
    (folder / "half.json").write_text(json.dumps({"compute": newest["compute"]}), "utf-8")
    (folder / "notes.txt").write_text("not a document", "utf-8")
    return {"newest": newest, "old": old}


def test_documents_source_reads_each_file_and_reports_malformed_ones_by_name(
    tmp_path: Path,
) -> None:
    document_files(tmp_path / "docs")
    config = inv.write_config(tmp_path, source="documents", documents=["docs"])
    result = inv.inventory(config, inv.environment(tmp_path))
    listing = result.listing()
    hostvars = inv.hostvars(listing)
    assert set(hostvars) == set(VMS)
    assert inv.groups_by_host(listing)["web1"] == expected_groups("web1")
    # The oldest version serving every field present; the wrapper's when it says.
    assert hostvars["web1"]["azure_imds"]["api_version"] == "2023-11-15"
    assert hostvars["web2"]["azure_imds"]["api_version"] == "2019-02-01"  # customData
    assert hostvars["batch-0"]["azure_imds"]["api_version"] == "2021-02-01"
    assert hostvars["web2"]["azure_imds"]["placement"]["zone"] == "2"
    assert hostvars["web1"]["azure_imds"]["endpoint"] is None
    bad = {w.split(": ")[1].rsplit("/", 1)[-1] for w in result.warnings()}
    assert bad == {"broken.json", "list.json", "half.json"}, result.warnings()


def test_documents_source_reports_a_document_holding_nan_by_name_and_reads_the_others(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("web1", "web2"):
        document = inv.document(vm_profile(name))
        (folder / f"{name}.json").write_text(json.dumps(document), "utf-8")
    # Python's json reads NaN (not JSON); the core's strict rule (imds.body.loads) refuses it.
    spoiled = inv.document(vm_profile("batch-0"))
    spoiled["compute"]["platformFaultDomain"] = float("nan")
    (folder / "batch.json").write_text(json.dumps(spoiled), "utf-8")
    config = inv.write_config(tmp_path, source="documents", documents=["docs"])
    result = inv.inventory(config, inv.environment(tmp_path))
    assert set(inv.hostvars(result.listing())) == {"web1", "web2"}
    warnings = result.warnings()
    assert len(warnings) == 1, warnings
    assert "batch.json: not a readable JSON document (NaN is not JSON)" in warnings[0]


def test_documents_source_infers_the_oldest_version_that_serves_every_field(
    tmp_path: Path,
) -> None:
    served = ["2017-04-02", "2019-06-04", "2021-12-13", versions.NEWEST]
    folder = tmp_path / "docs"
    folder.mkdir()
    for index, version in enumerate(served):
        document = inv.document(vm_profile("web1"), version)
        document["compute"]["name"] = f"at-{version}"
        document["compute"]["vmId"] = f"00000000-0000-4000-8000-00000000000{index}"
        (folder / f"{version}.json").write_text(json.dumps(document), "utf-8")
    config = inv.write_config(
        tmp_path, source="documents", documents=["docs/*.json"], hostnames=["source_name"]
    )
    hostvars = inv.hostvars(inv.inventory(config, inv.environment(tmp_path)).listing())
    inferred = [hostvars[version]["azure_imds"]["api_version"] for version in served]
    assert inferred == ["2017-03-01", "2019-06-04", "2021-12-13", "2023-11-15"]
    assert all(got <= asked for got, asked in zip(inferred, served))


@pytest.mark.netns
def test_local_source_asks_this_vms_own_imds_and_connects_locally(tmp_path: Path) -> None:
    config = inv.write_config(tmp_path, source="local")
    env = inv.environment(tmp_path)
    env["AZIMDS_DMI_DIR"] = str(sandbox.fake_dmi(tmp_path / "dmi"))
    argv = [str(support.ansible_bin() / "ansible-inventory"), "-i", str(config), "--list"]
    profile = {"compute": {"zone": "3", "osProfile": {"computerName": "runner-7"}}}
    on_azure = support.run_in_netns(argv, tmp_path, env, profile=profile, real_address=True)
    assert on_azure.returncode == 0, on_azure.output
    listing = json.loads(on_azure.stdout)
    hostvars = inv.hostvars(listing)
    assert list(hostvars) == ["runner-7"]
    assert hostvars["runner-7"]["ansible_connection"] == "local"
    assert hostvars["runner-7"]["azure_imds"]["endpoint"].startswith("http://169.254.169.254")
    assert "runner-7" in inv.groups(listing)["azure_zone_3"]
    assert len(on_azure.instance_requests()) == 1

    env["AZIMDS_DMI_DIR"] = str(sandbox.fake_dmi(tmp_path / "other-dmi", sandbox.NOT_AZURE_TAG))
    off_azure = support.run_in_netns(argv, tmp_path, env, profile=profile, real_address=True)
    assert off_azure.returncode == 0, off_azure.output
    assert inv.hostvars(json.loads(off_azure.stdout)) == {}
    assert off_azure.requests == []
    assert "azure_imds: local: " in " ".join(off_azure.stderr.split())
