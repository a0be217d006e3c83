"""VM profiles: YAML and JSON files over the built-in default, checked, served as IMDS serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from azimds.emulator.profile import (
    ProfileError,
    default_profile,
    load_profile,
    profile_from_mapping,
)
from azimds.emulator.ratelimit import RateLimit
from azimds.emulator.server import Emulator
from azimds.imds import versions
from emulator_support import request, scalars

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
    # Nested mappings merge into the default; untouched keys keep the default's values.
    assert compute["osProfile"] == {
        "adminUsername": "ops",
        "computerName": "jubilee",
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
