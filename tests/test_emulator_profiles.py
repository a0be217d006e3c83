"""VM profiles: YAML and JSON files over the built-in default, checked, served as IMDS serves."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from azimds.emulator.profile import (
    ProfileError,
    default_profile,
    load_profile,
    profile_from_mapping,
)
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.ratelimit import RateLimit
from azimds.emulator.server import Emulator
from azimds.imds import versions
from emulator_support import INSTANCE, FakeClock, request, scalars, statuses

YAML_PROFILE = """\
# a VM of a scale set in zone 2
compute:
  name: web-7
  vmId: 0b7c6f1e-3c1a-4f7e-9d2a-5f0e8c1b2a33
  location: eastus2
  zone: 2
  platformFaultDomain: 0
  platformUpdateDomain: 4
  vmScaleSetName: web
  isHostCompatibilityLayerVm: false
  osProfile:
    adminUsername: ops
  tags:
    Role: web
    Tier: 1
    Debug: true
    Note: "a:b;c"
  storageProfile:
    resourceDisk:
      size: 8192
api_versions: {oldest: 2019-06-01, newest: 2021-12-13}
rate_limit: {requests: 10, per_seconds: 2}
loadbalancer: null
faults:
  - {kind: status, status: 500, times: 1}
"""


def test_yaml_profile_over_the_default(tmp_path: Path) -> None:
    path = tmp_path / "web-7.yaml"
    path.write_text(YAML_PROFILE)
    profile = load_profile(path)
    compute = profile.instance["compute"]
    assert profile.name == "web-7"
    assert profile.source == str(path)
    # Scalars become strings as IMDS serves them.
    assert compute["zone"] == "2"
    assert compute["platformFaultDomain"] == "0"
    assert compute["isHostCompatibilityLayerVm"] == "false"
    assert compute["storageProfile"]["resourceDisk"]["size"] == "8192"
    # Nested mappings merge into the default; untouched keys keep the default's values, but
    # the name carries into the computer name.
    assert compute["osProfile"] == {
        "adminUsername": "ops",
        "computerName": "web-7",
        "disablePasswordAuthentication": "true",
    }
    assert compute["storageProfile"]["osDisk"]["osType"] == "Linux"
    assert compute["offer"] == default_profile().instance["compute"]["offer"]
    # A tags mapping becomes tagsList, and the tags string is derived from it.
    assert compute["tagsList"] == [
        {"name": "Role", "value": "web"},
        {"name": "Tier", "value": "1"},
        {"name": "Debug", "value": "true"},
        {"name": "Note", "value": "a:b;c"},
    ]
    assert compute["tags"] == "Role:web;Tier:1;Debug:true;Note:a:b;c"
    assert list(compute) == sorted(compute)
    assert profile.api_versions == tuple(versions.versions_between("2019-06-01", "2021-12-13"))
    assert profile.rate_limit == RateLimit(True, 10, 2.0)
    assert profile.loadbalancer is None
    assert profile.faults == ({"kind": "status", "status": 500, "times": 1},)
    assert all(isinstance(value, str) for _, value in scalars(profile.instance))


def test_json_profile(tmp_path: Path) -> None:
    path = tmp_path / "vm.json"
    path.write_text(
        json.dumps(
            {
                "compute": {"name": "db-1", "zone": 3, "tags": {"env": "prod"}},
                "api_versions": ["2021-02-01", "2019-06-04", "2021-02-01"],
                "rate_limit": False,
            }
        )
    )
    profile = load_profile(path)
    assert profile.name == "db-1"
    assert profile.instance["compute"]["zone"] == "3"
    assert profile.instance["compute"]["tags"] == "env:prod"
    assert profile.api_versions == ("2019-06-04", "2021-02-01")  # sorted, once each
    assert profile.rate_limit.enabled is False


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    assert load_profile(path).instance == default_profile().instance


def test_loaded_profile_is_served(tmp_path: Path) -> None:
    path = tmp_path / "web-7.yaml"
    path.write_text(
        YAML_PROFILE.replace("faults:\n  - {kind: status, status: 500, times: 1}\n", "")
    )
    with Emulator(load_profile(path)) as emulator:
        reply = request(emulator.base_url, "/metadata/instance/compute?api-version=2021-12-13")
        compute = reply.json()
        assert compute["zone"] == "2"
        assert compute["tags"] == "Role:web;Tier:1;Debug:true;Note:a:b;c"
        assert compute["tagsList"][1] == {"name": "Tier", "value": "1"}
        assert request(emulator.base_url, "/metadata/versions").json()["apiVersions"][0] == (
            "2019-06-01"
        )
        assert (
            request(emulator.base_url, "/metadata/loadbalancer?api-version=2021-12-13").status
            == 404
        )


def test_tags_list_gives_the_tags_string() -> None:
    profile = profile_from_mapping(
        {"compute": {"tagsList": [{"name": "a", "value": "1"}, {"name": "b", "value": ""}]}}
    )
    assert profile.instance["compute"]["tags"] == "a:1;b:"
    assert profile_from_mapping({"compute": {"tags": {}}}).instance["compute"]["tags"] == ""


def test_null_scalars_are_empty_strings() -> None:
    profile = profile_from_mapping({"compute": {"zone": None, "priority": 1.5}})
    assert profile.instance["compute"]["zone"] == ""
    assert profile.instance["compute"]["priority"] == "1.5"


def test_default_profile_has_every_field_of_the_table() -> None:
    profile = default_profile()
    served = {path for path, _ in scalars(profile.instance)}
    for path in versions.FIELD_INTRODUCED:
        probe = path.replace("[]", "[0]")
        assert any(
            p == probe or p.startswith(probe + ".") or p.startswith(probe + "[") for p in served
        ), path


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"computer": {}}, "computer"),
        ({"compute": {}, "faultz": []}, "faultz"),
        ({"compute": "jubilee"}, "'compute' must be a mapping"),
        ({"network": ["eth0"]}, "'network' must be a mapping"),
        ({"network": {"interface": "eth0"}}, "network.interface"),
        ({"compute": {"name": ""}}, "compute.name"),
        ({"compute": {"vmId": None}}, "compute.vmId"),
        ({"compute": {"tags": "a:b"}}, "tags"),
        ({"compute": {"tagsList": [{"name": "a"}]}}, "compute.tagsList"),
        ({"compute": {"tagsList": "a:b"}}, "compute.tagsList"),
        ({"compute": {"plan": {"name": {1, 2}}}}, "compute.plan.name"),
        ({"loadbalancer": "none"}, "loadbalancer"),
        ({"api_versions": "2019-06-01"}, "api_versions"),
        ({"api_versions": []}, "api_versions"),
        ({"api_versions": ["2019-06-01", "2019-06-02"]}, "2019-06-02"),
        ({"api_versions": ["latest"]}, "latest"),
        ({"api_versions": {"newest": "2019-06-02"}}, "2019-06-02"),
        ({"api_versions": {"oldest": "2016-01-01"}}, "2016-01-01"),
        ({"api_versions": {"latest": "2019-06-01"}}, "latest"),
        ({"api_versions": {"oldest": "2021-01-01", "newest": "2019-06-01"}}, "api_versions"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"rate_limit": 5}, "rate_limit"),
        ({"rate_limit": {"requests": 0}}, "rate_limit"),
        ({"rate_limit": {"requests": "many"}}, "rate_limit"),
        ({"rate_limit": {"requests": float("inf")}}, "rate_limit"),
        ({"rate_limit": {"per_seconds": 0}}, "rate_limit"),
        ({"rate_limit": {"per_seconds": -1}}, "rate_limit"),
        ({"rate_limit": {"per_seconds": float("nan")}}, "rate_limit"),
        ({"faults": {"kind": "status"}}, "faults"),
        ({"faults": ["status 500"]}, "faults"),
        ({"faults": [{"kind": "status", "status": 500}, {"kind": "boom"}]}, "faults[1]"),
        ({"faults": [{"kind": "status", "status": 200}]}, "faults[0]"),
        ({"faults": [{"kind": "latency"}]}, "delay"),
    ],
)
def test_bad_profile_names_the_key(data: Dict[str, Any], named: str) -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_mapping(data, source="bad.yaml")
    message = str(caught.value)
    assert message.startswith("bad.yaml: ")
    assert named in message


def test_profile_must_be_a_mapping() -> None:
    with pytest.raises(ProfileError, match="must be a mapping, got list"):
        profile_from_mapping(["compute"])


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        ("broken.yaml", "compute: [unclosed\n", "not valid YAML/JSON"),
        ("broken.json", '{"compute": ', "not valid YAML/JSON"),
        ("list.yaml", "- compute\n", "must be a mapping"),
        ("unknown.yaml", "computer:\n  name: x\n", "computer"),
        ("types.json", '{"rate_limit": "fast"}', "rate_limit"),
        ("date.yaml", "compute:\n  version: 2024-01-01\n", "compute.version"),
    ],
)
def test_bad_profile_files(tmp_path: Path, name: str, text: str, named: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(path) in str(caught.value)
    assert named in str(caught.value)


def test_missing_profile_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ProfileError, match="cannot read VM profile"):
        load_profile(missing)


def test_profiles_do_not_share_state() -> None:
    first = profile_from_mapping({"compute": {"tags": {"a": "1"}}})
    first.instance["compute"]["storageProfile"]["dataDisks"].clear()
    second = default_profile()
    assert second.instance["compute"]["storageProfile"]["dataDisks"]
    assert second.instance["compute"]["tags"] == "Department:IT;Environment:Prod;Role:WorkerRole"


def refusal(data: Dict[str, Any]) -> str:
    """Return the message of the ProfileError that ``data`` raises as a profile."""
    with pytest.raises(ProfileError) as caught:
        profile_from_mapping(data, source="vm.yaml")
    return str(caught.value)


def test_a_misspelt_nested_key_is_refused_with_the_path_and_the_allowed_keys() -> None:
    message = refusal({"compute": {"vmSzie": "Standard_B1s"}})
    assert message.startswith("vm.yaml: unknown key 'compute.vmSzie' (did you mean 'vmSize'?)")
    assert "allowed under 'compute': additionalCapabilities, azEnvironment," in message
    assert "tags, tagsList" in message and "vmSize, zone" in message


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"compute": {"storageProfile": {"osDisk": {"diskSizeGb": 30}}}}, "osDisk.diskSizeGb"),
        ({"compute": {"osProfile": {"hostname": "x"}}}, "compute.osProfile.hostname"),
        ({"compute": {"publicKeys": [{"key": "ssh-ed25519 AAAA"}]}}, "publicKeys[0].key"),
        (
            {"network": {"interface": [{"ipv4": {"ipAddress": [{"privateIp": "10.0.0.4"}]}}]}},
            "network.interface[0].ipv4.ipAddress[0].privateIp",
        ),
        ({"network": {"interfaces": []}}, "'network.interfaces' (did you mean 'interface'?)"),
        ({"loadbalancer": {"inboundRules": [{"port": 80}]}}, "loadbalancer.inboundRules[0].port"),
        (
            {"rate_limit": {"per_second": 1}},
            "'rate_limit.per_second' (did you mean 'per_seconds'?)",
        ),
        ({"api_versions": {"newst": "2021-02-01"}}, "'api_versions.newst'"),
    ],
)
def test_unknown_keys_are_refused_at_any_depth(data: Dict[str, Any], path: str) -> None:
    message = refusal(data)
    assert message.startswith("vm.yaml: unknown key ")
    assert path in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"compute": {"zone": [1, 2]}}, "'compute.zone' must be a string, number or boolean"),
        ({"compute": {"zone": {"a": 1}}}, "'compute.zone' must be a string, number or boolean"),
        ({"compute": {"osProfile": "jubilee"}}, "'compute.osProfile' must be a mapping"),
        ({"compute": {"publicKeys": {"keyData": "x"}}}, "'compute.publicKeys' must be a list"),
        ({"compute": {"tagsList": [["Role", "web"]]}}, "'compute.tagsList[0]' must be a mapping"),
        ({"compute": {"tags": {"Role": ["web"]}}}, "'compute.tags.Role' must be a string"),
        (
            {"compute": {"tags": {"a": "1"}, "tagsList": [{"name": "b", "value": "2"}]}},
            "not both",
        ),
        ({"network": {"interface": [{"macAddress": []}]}}, "interface[0].macAddress' must be"),
        ({"rate_limit": {"enabled": "no"}}, "'rate_limit.enabled' must be true or false"),
        ({"rate_limit": {"requests": True}}, "'rate_limit.requests' must be a whole number"),
        ({"rate_limit": {"requests": 2.5}}, "'rate_limit.requests' must be a whole number"),
        ({"rate_limit": {"per_seconds": "1"}}, "'rate_limit.per_seconds' must be a number"),
        ({"rate_limit": {"per_seconds": float("inf")}}, "'rate_limit.per_seconds' must be"),
    ],
)
def test_values_must_have_the_shape_imds_serves(data: Dict[str, Any], expected: str) -> None:
    assert expected in refusal(data)


def test_the_attested_section_is_refused_saying_where_the_document_comes_from() -> None:
    message = refusal({"attested": {"nonce": "x"}})
    assert message.startswith("vm.yaml: there is no 'attested' section")
    assert "from 'compute'" in message


def test_rate_limit_settings_are_honoured(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"rate_limit": {"requests": 2, "per_seconds": 60}}, clock=FakeClock())
    assert statuses(emulator.base_url, 3) == [200, 200, 429]
    assert "2 requests per 60 s" in request(emulator.base_url, INSTANCE).json()["error"]


def test_an_ipv6_address_has_the_shape_of_an_ipv4_one(imds_factory: EmulatorFactory) -> None:
    interface = {
        "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}]},
        "ipv6": {"ipAddress": [{"privateIpAddress": "fd00::4", "publicIpAddress": ""}]},
        "macAddress": "000D3A000001",
    }
    emulator = imds_factory({"network": {"interface": [interface]}})
    node = "/metadata/instance/network/interface/0/ipv6/ipAddress/0/privateIpAddress"
    reply = request(emulator.base_url, f"{node}?api-version=2021-02-01&format=text")
    assert (reply.status, reply.text) == (200, "fd00::4")
    assert "ipv6.ipAddress[0].privateIp'" in refusal(
        {"network": {"interface": [{"ipv6": {"ipAddress": [{"privateIp": "fd00::4"}]}}]}}
    )


def test_the_name_carries_into_computer_name_resource_id_and_disks(
    imds_factory: EmulatorFactory,
) -> None:
    compute = profile_from_mapping(
        {"compute": {"name": "web01", "resourceGroupName": "prod-rg"}}
    ).instance["compute"]
    assert compute["osProfile"]["computerName"] == "web01"
    assert compute["resourceId"] == (
        "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourceGroups/prod-rg"
        "/providers/Microsoft.Compute/virtualMachines/web01"
    )
    assert compute["storageProfile"]["osDisk"]["name"] == "web01_OsDisk_1"
    assert "/resourceGroups/prod-rg/" in compute["storageProfile"]["osDisk"]["managedDisk"]["id"]
    assert "jubilee" not in json.dumps(compute) and "myrg" not in json.dumps(compute)
    emulator = imds_factory({"compute": {"name": "web01"}})
    node = "/metadata/instance/compute/osProfile/computerName?api-version=2021-02-01&format=text"
    assert request(emulator.base_url, node).text == "web01"


def test_values_given_beside_the_name_are_kept() -> None:
    resource_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/x"
    compute = profile_from_mapping(
        {
            "compute": {
                "name": "web01",
                "osProfile": {"computerName": "WEB-01"},
                "resourceId": resource_id,
            }
        }
    ).instance["compute"]
    assert compute["osProfile"]["computerName"] == "WEB-01"
    assert compute["resourceId"] == resource_id


def test_the_default_profile_file_shows_every_key_the_docs_name() -> None:
    """default-profile.yaml shows every top-level key; docs/emulator.md's table names each."""
    shown = yaml.safe_load(
        resources.files("azimds").joinpath("data/default-profile.yaml").read_text("utf-8")
    )
    docs = (Path(__file__).resolve().parents[1] / "docs" / "emulator.md").read_text("utf-8")
    section = docs.split("## VM profiles", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE):
        documented |= set(re.findall(r"`([a-z_]+)`", row))
    assert (
        set(shown)
        == documented
        == {
            "compute",
            "network",
            "loadbalancer",
            "api_versions",
            "rate_limit",
            "faults",
        }
    )
    profile = default_profile()
    assert profile.api_versions == versions.INSTANCE_VERSIONS  # "all"
    assert profile.rate_limit == RateLimit(True, 5, 1.0)  # IMDS: 5 requests per second
    assert profile.faults == ()
