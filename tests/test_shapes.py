"""The per-tool shapes: Ansible facts, Salt grains, cloud-init metadata."""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

import azimds
from azimds.emulator.profile import default_profile
from azimds.facts.model import Instance, normalize
from azimds.facts.shapes import ansible_facts, cloud_init_metadata, salt_grains
from azimds.imds import versions
from pythons import SHIPPED_VERSIONS, python_or_skip

NEWEST_DOC: Dict[str, Any] = default_profile().instance
SUB = "8d10da13-8125-4ba9-a717-bf7490507b3d"
RG_PATH = f"/subscriptions/{SUB}/resourceGroups/myrg/providers/Microsoft.Compute"
KEY = NEWEST_DOC["compute"]["publicKeys"][0]["keyData"]
TAGS = {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"}


def doc_at(version: str) -> Dict[str, Any]:
    return versions.document_at(copy.deepcopy(NEWEST_DOC), version)


def at(version: str) -> Instance:
    return normalize(doc_at(version), version)


def with_user_data(data: bytes) -> Instance:
    doc = doc_at(versions.NEWEST)
    doc["compute"]["userData"] = base64.b64encode(data).decode()
    doc["compute"]["customData"] = base64.b64encode(b"custom text").decode()
    return normalize(doc, versions.NEWEST)


PLACEMENT = {
    "location": "westus",
    "zone": "1",
    "physical_zone": "westus-az01",
    "fault_domain": 1,
    "update_domain": 1,
    "sub_fault_domain": None,
    "placement_group_id": None,
    "scale_set_name": None,
    "scale_set_id": None,
    "host_id": None,
    "host_group_id": None,
    "extended_location": None,
}

REST = {
    "api_version": versions.NEWEST,
    "vm_id": "13f56399-bd52-4150-9748-7190aae1ff21",
    "name": "jubilee",
    "resource_id": f"{RG_PATH}/virtualMachines/jubilee",
    "subscription_id": SUB,
    "resource_group": "myrg",
    "az_environment": "AzurePublicCloud",
    "vm_size": "Standard_D2s_v5",
    "os_type": "Linux",
    "priority": "Regular",
    "eviction_policy": None,
    "license_type": None,
    "image": {
        "publisher": "canonical",
        "offer": "0001-com-ubuntu-server-jammy",
        "sku": "22_04-lts-gen2",
        "version": "22.04.202411010",
        "exact_version": "22.04.202411010",
        "id": None,
        "shared_gallery_image_id": None,
        "community_gallery_image_id": None,
    },
    "plan": None,
    "os_profile": {
        "admin_username": "azureuser",
        "computer_name": "jubilee",
        "password_authentication_disabled": True,
    },
    "security": {
        "security_type": "TrustedLaunch",
        "secure_boot_enabled": True,
        "virtual_tpm_enabled": True,
        "encryption_at_host": False,
    },
    "storage": {
        "os_disk": {
            "name": "jubilee_OsDisk_1",
            "os_type": "Linux",
            "size_gb": 30,
            "caching": "ReadWrite",
            "create_option": "FromImage",
            "storage_account_type": "Premium_LRS",
            "managed_disk_id": f"{RG_PATH}/disks/jubilee_OsDisk_1",
            "vhd_uri": None,
            "image_uri": None,
            "write_accelerator_enabled": False,
            "encryption_enabled": False,
            "ephemeral_option": None,
        },
        "data_disks": [
            {
                "lun": 0,
                "name": "jubilee_data0",
                "size_gb": 128,
                "caching": "None",
                "create_option": "Empty",
                "storage_account_type": "Premium_LRS",
                "managed_disk_id": f"{RG_PATH}/disks/jubilee_data0",
                "vhd_uri": None,
                "image_uri": None,
                "write_accelerator_enabled": False,
                "capacity_bytes": 137438953472,
                "bytes_per_second_throttle": 104857600,
                "ops_per_second_throttle": 500,
                "is_shared_disk": False,
                "is_ultra_disk": False,
            }
        ],
        "resource_disk_size_mb": 16384,
    },
    "network": {
        "interfaces": [
            {
                "mac": "00:0d:3a:36:dd:ed",
                "private_ipv4": ["10.1.2.5"],
                "public_ipv4": ["20.42.18.7"],
                "ipv4_subnets": ["10.1.2.0/24"],
                "private_ipv6": [],
                "public_ipv6": [],
                "ipv6_subnets": [],
            }
        ],
        "primary_private_ipv4": "10.1.2.5",
        "primary_public_ipv4": "20.42.18.7",
    },
    "public_keys": [{"key_data": KEY, "path": "/home/azureuser/.ssh/authorized_keys"}],
    "tags": TAGS,
    "tag_warnings": [],
    "field_warnings": [],
}


# --- Ansible -------------------------------------------------------------------------------


def test_ansible_facts_of_the_newest_version() -> None:
    facts = ansible_facts(at(versions.NEWEST))
    assert facts == {**REST, "placement": PLACEMENT}
    assert list(facts)[:2] == ["api_version", "vm_id"]


def test_ansible_facts_of_an_old_version_have_the_same_keys_with_none() -> None:
    facts = ansible_facts(at("2017-04-02"))
    assert set(facts) == set(REST) | {"placement"}
    assert set(facts["placement"]) == set(PLACEMENT)
    assert facts["placement"]["zone"] is None
    assert facts["tags"] is None
    assert facts["public_keys"] is None
    assert facts["storage"] == {"os_disk": None, "data_disks": None, "resource_disk_size_mb": None}
    assert facts["os_profile"] == {
        "admin_username": None,
        "computer_name": None,
        "password_authentication_disabled": None,
    }


def test_secrets_are_left_out_unless_asked_for() -> None:
    instance = with_user_data(b"#cloud-config\n")
    for shape in (ansible_facts(instance), salt_grains(instance)):
        assert "user_data" not in shape
        assert "custom_data" not in shape
        assert "cloud-config" not in json.dumps(shape)
        assert "custom text" not in json.dumps(shape)


def test_secrets_when_asked_for_give_text_and_base64() -> None:
    instance = with_user_data(b"#cloud-config\n")
    facts = ansible_facts(instance, include_secrets=True)
    assert facts["user_data"] == {"text": "#cloud-config\n", "base64": "I2Nsb3VkLWNvbmZpZwo="}
    assert facts["custom_data"] == {"text": "custom text", "base64": "Y3VzdG9tIHRleHQ="}
    assert salt_grains(instance, include_secrets=True)["user_data"] == facts["user_data"]


def test_binary_secrets_when_asked_for_are_base64_only() -> None:
    payload = b"\x1f\x8b\x08\x00\xff"
    facts = ansible_facts(with_user_data(payload), include_secrets=True)
    assert facts["user_data"]["text"] is None
    assert base64.b64decode(facts["user_data"]["base64"]) == payload
    json.dumps(facts)


def test_absent_secrets_when_asked_for_are_none() -> None:
    facts = ansible_facts(at(versions.NEWEST), include_secrets=True)
    assert facts["user_data"] is None
    assert facts["custom_data"] is None


def test_shapes_do_not_share_state_with_the_model() -> None:
    instance = at(versions.NEWEST)
    facts = ansible_facts(instance)
    facts["tags"]["Environment"] = "Changed"
    grains = salt_grains(instance)
    grains["tags"]["Role"] = "Changed"
    meta = cloud_init_metadata(instance)
    meta["tags"]["Department"] = "Changed"
    assert instance.tags == TAGS
    assert ansible_facts(instance) == {**REST, "placement": PLACEMENT}


# --- Salt ----------------------------------------------------------------------------------


def grain_target_matches(grains: Dict[str, Any], target: str) -> bool:
    """Whether ``salt -G 'azure:<target>'`` would match these ``azure`` grains.

    Salt walks nested keys split on ':' (longest key path first) and compares the value with
    ``fnmatch(str(value).lower(), pattern.lower())``; a list matches when a member does.
    """
    parts = target.split(":")
    for split in range(len(parts) - 1, 0, -1):
        node: Any = grains
        for key in parts[:split]:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            pattern = ":".join(parts[split:]).lower()
            values = node if isinstance(node, list) else [node]
            if any(fnmatch.fnmatch(str(v).lower(), pattern) for v in values):
                return True
    return False


def test_salt_grains_lift_placement_to_the_top() -> None:
    grains = salt_grains(at(versions.NEWEST))
    assert grains == {**PLACEMENT, **REST}
    assert "placement" not in grains
    assert list(grains)[:4] == ["location", "zone", "physical_zone", "fault_domain"]


@pytest.mark.parametrize(
    ("target", "matches"),
    [
        ("zone:1", True),
        ("zone:2", False),
        ("location:westus", True),
        ("fault_domain:1", True),
        ("update_domain:1", True),
        ("vm_size:Standard_D2s_*", True),
        ("tags:Environment:Prod", True),
        ("tags:Environment:Dev", False),
        ("security:secure_boot_enabled:true", True),
        ("network:primary_private_ipv4:10.1.2.5", True),
        ("os_profile:computer_name:jubilee", True),
        ("vm_id:13f56399-*", True),
    ],
)
def test_salt_grain_targets(target: str, matches: bool) -> None:
    assert grain_target_matches(salt_grains(at(versions.NEWEST)), target) is matches


def test_salt_zone_stays_a_string_and_domains_are_ints() -> None:
    grains = salt_grains(at(versions.NEWEST))
    assert grains["zone"] == "1"
    assert grains["fault_domain"] == 1


# --- cloud-init ----------------------------------------------------------------------------


def test_cloud_init_metadata_of_the_newest_version() -> None:
    assert cloud_init_metadata(at(versions.NEWEST)) == {
        "instance-id": "13f56399-bd52-4150-9748-7190aae1ff21",
        "local-hostname": "jubilee",
        "availability-zone": "1",
        "region": "westus",
        "cloud-name": "azure",
        "platform": "azure",
        "public-keys": [KEY],
        "vm-size": "Standard_D2s_v5",
        "physical-zone": "westus-az01",
        "fault-domain": 1,
        "update-domain": 1,
        "scale-set-name": None,
        "subscription-id": SUB,
        "resource-group": "myrg",
        "resource-id": f"{RG_PATH}/virtualMachines/jubilee",
        "priority": "Regular",
        "az-environment": "AzurePublicCloud",
        "private-ipv4": "10.1.2.5",
        "public-ipv4": "20.42.18.7",
        "tags": TAGS,
        "api-version": versions.NEWEST,
    }


def test_cloud_init_hostname_prefers_the_computer_name() -> None:
    doc = doc_at(versions.NEWEST)
    doc["compute"]["osProfile"]["computerName"] = "web-01"
    assert cloud_init_metadata(normalize(doc, versions.NEWEST))["local-hostname"] == "web-01"


def test_cloud_init_metadata_of_the_oldest_version() -> None:
    meta = cloud_init_metadata(at("2017-04-02"))
    assert meta["local-hostname"] == "jubilee"  # no osProfile yet: the VM name
    assert meta["availability-zone"] is None
    assert meta["public-keys"] == []
    assert meta["tags"] is None
    assert meta["instance-id"] == "13f56399-bd52-4150-9748-7190aae1ff21"


def test_cloud_init_metadata_never_carries_user_data() -> None:
    meta = cloud_init_metadata(with_user_data(b"#cloud-config\n"))
    assert "cloud-config" not in json.dumps(meta)
    assert "custom text" not in json.dumps(meta)


# --- every shape, every version ------------------------------------------------------------


@pytest.mark.parametrize("version", versions.INSTANCE_VERSIONS)
def test_every_shape_is_json_serializable_at_every_version(version: str) -> None:
    instance = with_user_data(b"\xff\xfe") if version == versions.NEWEST else at(version)
    shapes = [
        ansible_facts(instance),
        ansible_facts(instance, include_secrets=True),
        salt_grains(instance, include_secrets=True),
        cloud_init_metadata(instance),
    ]
    for shape in shapes:
        # Equal after a JSON round trip: no tuples, bytes or objects left inside.
        assert json.loads(json.dumps(shape)) == shape


# --- the vocabulary table in docs/vocabulary.md ----------------------------------------------

VOCABULARY = Path(__file__).resolve().parents[1] / "docs" / "vocabulary.md"


def vocabulary_rows() -> List[List[str]]:
    """The table's rows as [model, ansible, salt, cloud-init] cells, backticks stripped."""
    rows: List[List[str]] = []
    for line in VOCABULARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] != "Model (`Instance.`)":
            rows.append([cell.strip("`") for cell in cells[:4]])
    return rows


def leaf_paths(facts: Dict[str, Any], prefix: str = "") -> List[str]:
    """Dotted paths of the facts, down into objects but not into lists or tags."""
    paths: List[str] = []
    for key, value in facts.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "tags":
            paths.extend(leaf_paths(value, f"{path}."))
        else:
            paths.append(path)
    return paths


def test_vocabulary_table_names_every_fact_and_nothing_else() -> None:
    rows = vocabulary_rows()
    instance = with_user_data(b"x")
    facts = ansible_facts(instance, include_secrets=True)
    documented = [row[1] for row in rows if row[1] != "—"]
    assert len(documented) == len(set(documented))
    for path in leaf_paths(facts):
        assert any(path == d or path.startswith(f"{d}.") for d in documented), path
    for row in rows:
        model, ansible, salt = row[:3]
        if model == "—":
            assert ansible == salt == "—"
        else:
            assert ansible == model
            node: Any = instance
            for part in model.split("."):
                node = getattr(node, part)  # the model attribute exists
            lifted = model[len("placement.") :] if model.startswith("placement.") else model
            assert salt == "azure:" + lifted.replace(".", ":")
    documented_cloud_init = {row[3] for row in rows if row[3] != "—"}
    assert documented_cloud_init == set(cloud_init_metadata(instance))


def test_vocabulary_salt_column_names_real_grains() -> None:
    grains = salt_grains(at(versions.NEWEST), include_secrets=True)
    for row in vocabulary_rows():
        if row[2] == "—":
            continue
        node: Any = grains
        for key in row[2].split(":")[1:]:
            assert isinstance(node, dict) and key in node, row[2]
            node = node[key]


# --- Python 3.8 to 3.13, standard library only ---------------------------------------------
# The shipped packages, copied alone into a package and run by each Python without
# site-packages: the child prunes the newest document to each version itself (versions.py),
# normalizes it and prints every shape, which must equal ours.

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from azimds.facts import model, shapes
from azimds.imds import versions
shaped = {}
for version in sys.argv[3:]:
    document = versions.document_at(json.load(open(sys.argv[2])), version)
    instance = model.normalize(document, version)
    shaped[version] = {
        "ansible": shapes.ansible_facts(instance, include_secrets=True),
        "salt": shapes.salt_grains(instance),
        "cloud_init": shapes.cloud_init_metadata(instance),
    }
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "shaped": shaped,
    "loaded": sorted(m for m in sys.modules if m.startswith("azimds")),
}))
"""


@pytest.mark.parametrize("python_version", SHIPPED_VERSIONS)
def test_every_python_with_the_standard_library_only_gives_the_same_shapes(
    tmp_path: Path, python_version: str
) -> None:
    python = python_or_skip(python_version)
    package = tmp_path / "azimds"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = Path(azimds.__file__).parent
    for name in azimds.SHIPPED_PACKAGES:
        shutil.copytree(source / name, package / name, ignore=shutil.ignore_patterns("*.pyc"))
    newest = copy.deepcopy(NEWEST_DOC)
    newest["compute"]["userData"] = base64.b64encode(b"#cloud-config\n").decode()
    (tmp_path / "doc.json").write_text(json.dumps(newest))
    api_versions = ["2017-08-01", versions.NEWEST]

    # -I: no environment, no user site; -S: no site-packages at all, only the standard library.
    run = subprocess.run(
        [python, "-I", "-S", "-c", CHILD, str(tmp_path), str(tmp_path / "doc.json"),
         *api_versions],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    child = json.loads(run.stdout)
    assert child["python"] == python_version
    for version in api_versions:
        instance = normalize(versions.document_at(newest, version), version)
        shaped = child["shaped"][version]
        assert shaped["ansible"] == ansible_facts(instance, include_secrets=True)
        assert shaped["salt"] == salt_grains(instance)
        assert shaped["cloud_init"] == cloud_init_metadata(instance)
        expected_user_data = {"text": "#cloud-config\n", "base64": "I2Nsb3VkLWNvbmZpZwo="}
        assert shaped["ansible"]["user_data"] == (
            expected_user_data if version >= "2021-01-01" else None
        )
    # Normalizing and shaping load the facts package and only the parts of the wire it needs.
    assert child["loaded"] == [
        "azimds",
        "azimds.facts",
        "azimds.facts.model",
        "azimds.facts.normalize",
        "azimds.facts.shapes",
        "azimds.facts.tags",
        "azimds.imds",
        "azimds.imds.detect",  # errors.NotOnAzure's message lives with detection
        "azimds.imds.errors",
        "azimds.imds.paths",
        "azimds.imds.printable",
        "azimds.imds.versions",
    ]
