"""Groups, names and variables of the azure_imds inventory, from document files.

Hostile tags (spaces, unicode, Jinja, 512 characters) become safe group names and stay
untemplated text; duplicate host names are reported, never merged; the default groups can be
changed, replaced and turned off; include/exclude run before any group is built.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest

import inventory_support as inv

pytestmark = pytest.mark.timeout(300)

JINJA = "{{ lookup('pipe','id') }}"
LONG_NAME = "N" * 512
LONG_VALUE = "v" * 512
HOSTILE_TAGS = {
    "Cost Center": "Finance & Ops",
    "Ünïcödé": "värde-日本",
    "jinja": JINJA,
    "{{ 7 * 7 }}": "{% raw %}x",
    LONG_NAME: LONG_VALUE,
}


def write_documents(folder: Path, vms: Mapping[str, Mapping[str, Any]]) -> None:
    """Write one document file per VM: {file stem: compute overrides}."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (stem, compute) in enumerate(vms.items()):
        vm_id = compute.get("vmId", f"00000000-0000-4000-8000-{index:012d}")
        overrides = {"name": stem, "vmId": vm_id, "osProfile": {"computerName": stem}, **compute}
        document = inv.document(inv.profile(overrides))
        (folder / f"{stem}.json").write_text(json.dumps(document), "utf-8")


def documents_inventory(tmp_path: Path, vms: Mapping[str, Any], **options: Any) -> inv.Result:
    write_documents(tmp_path / "docs", vms)
    config = inv.write_config(tmp_path, source="documents", documents=["docs"], **options)
    return inv.inventory(config, inv.environment(tmp_path))


def test_hostile_tags_make_safe_groups_and_stay_untemplated_text(tmp_path: Path) -> None:
    result = documents_inventory(tmp_path, {"odd": {"tags": HOSTILE_TAGS}})
    listing = result.listing()
    tag_groups = {g for g in inv.groups_by_host(listing)["odd"] if g.startswith("azure_tag_")}
    expected = {
        "azure_tag_cost_center_Finance___Ops",
        "azure_tag_ünïcödé_värde_日本",
        "azure_tag_jinja____lookup__pipe___id_____",
        "azure_tag____7___7_______raw___x",
        "azure_tag_" + LONG_NAME.lower() + "_" + LONG_VALUE,
    }
    assert tag_groups == expected
    assert inv.hostvars(listing)["odd"]["azure_imds"]["tags"] == HOSTILE_TAGS
    # ansible-inventory marks every IMDS string as not to be templated by whoever reads it.
    raw_tags = listing["_meta"]["hostvars"]["odd"]["azure_imds"]["tags"]
    assert raw_tags["jinja"] == {"__ansible_unsafe": JINJA}


def test_a_jinja_tag_value_stays_text_in_a_playbook_and_in_compose(tmp_path: Path) -> None:
    write_documents(tmp_path / "docs", {"odd": {"tags": HOSTILE_TAGS}})
    config = inv.write_config(
        tmp_path,
        source="documents",
        documents=["docs"],
        compose={"jinja_tag": "azure_imds.tags.jinja", "ansible_connection": "'local'"},
    )
    play = [
        {
            "hosts": "azure_imds",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.copy": {
                        "dest": str(tmp_path / "seen.json"),
                        "content": "{{ [azure_imds.tags.jinja, jinja_tag] | to_json }}",
                    },
                    "delegate_to": "localhost",
                }
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(json.dumps(play), "utf-8")
    env = inv.environment(tmp_path, {"ANSIBLE_PYTHON_INTERPRETER": "auto_silent"})
    done = inv.run(["ansible-playbook", "-i", str(config), "play.yml"], tmp_path, env)
    assert done.returncode == 0, done.output
    assert json.loads((tmp_path / "seen.json").read_text("utf-8")) == [JINJA, JINJA]
    assert "uid=" not in done.output


def test_duplicate_names_are_reported_and_renamed_by_vm_id(tmp_path: Path) -> None:
    twin = {"osProfile": {"computerName": "web"}}
    vms = {
        "a": {**twin, "vmId": "00000000-0000-4000-8000-00000000000a"},
        "b": {**twin, "vmId": "00000000-0000-4000-8000-00000000000b"},
        "c": {"vmId": "00000000-0000-4000-8000-00000000000c"},
        "c_copy": {
            "name": "c",
            "vmId": "00000000-0000-4000-8000-00000000000c",
            "osProfile": {"computerName": "c"},
        },
    }
    result = documents_inventory(tmp_path, vms)
    hostvars = inv.hostvars(result.listing())
    assert set(hostvars) == {
        "00000000-0000-4000-8000-00000000000a",
        "00000000-0000-4000-8000-00000000000b",
        "c",
    }
    warnings = result.warnings()
    shared = [w for w in warnings if "host name 'web' is shared by 2 VMs" in w]
    assert len(shared) == 2 and all("named it 00000000-" in w for w in shared)
    assert any(
        w.endswith(
            "c_copy.json: VM 00000000-0000-4000-8000-00000000000c was already read from "
            + str(tmp_path / "docs" / "c.json")
            + "; kept that one"
        )
        for w in warnings
    ), warnings


def test_duplicate_names_can_be_left_out_or_stop_the_source(tmp_path: Path) -> None:
    twin = {"osProfile": {"computerName": "web"}}
    vms = {"a": twin, "b": twin, "c": {}}
    skipped = documents_inventory(tmp_path / "skip", vms, duplicate_hostnames="skip")
    assert set(inv.hostvars(skipped.listing())) == {"c"}
    assert sum("left it out" in w for w in skipped.warnings()) == 2
    write_documents(tmp_path / "fail" / "docs", vms)
    config = inv.write_config(
        tmp_path / "fail", source="documents", documents=["docs"], duplicate_hostnames="fail"
    )
    env = inv.environment(tmp_path / "fail", {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    failed = inv.inventory(config, env)
    assert failed.returncode != 0
    assert "host name 'web' is shared by 2 VMs" in " ".join(failed.stderr.split())
    assert "Traceback" not in failed.output


def test_hostnames_preferences_pick_the_first_that_gives_a_name(tmp_path: Path) -> None:
    vms = {
        "tagged": {"tags": {"Name": "db-primary"}, "resourceGroupName": "rg1"},
        "untagged": {"resourceGroupName": "rg2"},
    }
    result = documents_inventory(
        tmp_path, vms, hostnames=["tag:name", {"name": "name", "prefix": "resource_group"}]
    )
    assert set(inv.hostvars(result.listing())) == {"db-primary", "rg2_untagged"}


def test_an_unknown_hostnames_keyword_is_a_one_line_error(tmp_path: Path) -> None:
    write_documents(tmp_path / "docs", {"a": {}})
    config = inv.write_config(tmp_path, source="documents", documents=["docs"], hostnames=["fqdn"])
    env = inv.environment(tmp_path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    result = inv.inventory(config, env)
    assert result.returncode != 0
    assert "hostnames: unknown keyword 'fqdn'" in result.stderr
    assert "Traceback" not in result.output


ZONES: Dict[str, Dict[str, Any]] = {
    "z1": {"zone": "1", "tags": {"Environment": "prod"}},
    "z2": {"zone": "2", "tags": {"Environment": "prod"}},
    "none": {"zone": "", "tags": {"Environment": "dev"}},
}


def zone_groups(listing: Mapping[str, Any]) -> Dict[str, List[str]]:
    return {
        group: sorted(hosts)
        for group, hosts in inv.groups(listing).items()
        if group.startswith("azure_zone")
    }


def test_zoneless_vms_are_in_no_zone_group_unless_asked(tmp_path: Path) -> None:
    plain = documents_inventory(tmp_path / "plain", ZONES)
    assert zone_groups(plain.listing()) == {"azure_zone_1": ["z1"], "azure_zone_2": ["z2"]}
    # A keyed_groups entry with a default group's prefix and no key keeps the default key: the
    # plugin writes that expression itself and marks it trusted; untrusted, 2.19 would refuse it.
    env = {"_ANSIBLE_TEMPLAR_UNTRUSTED_TEMPLATE_BEHAVIOR": "error"}
    write_documents(tmp_path / "asked" / "docs", ZONES)
    config = inv.write_config(
        tmp_path / "asked",
        source="documents",
        documents=["docs"],
        strict=True,
        keyed_groups=[{"prefix": "azure_zone", "default_value": "none"}],
    )
    asked = inv.inventory(config, inv.environment(tmp_path / "asked", env))
    assert zone_groups(asked.listing()) == {
        "azure_zone_1": ["z1"],
        "azure_zone_2": ["z2"],
        "azure_zone_none": ["none"],
    }


def test_default_groups_can_be_replaced_turned_off_and_read_a_prefixed_variable(
    tmp_path: Path,
) -> None:
    replaced = documents_inventory(
        tmp_path / "replaced",
        ZONES,
        hostvars_prefix="my_",
        keyed_groups=[
            {"prefix": "azure_tag", "separator": "__", "parent_group": "azure_tags"},
            {"prefix": "zone", "key": "my_azure_imds.placement.zone", "default_value": "x"},
        ],
    )
    listing = replaced.listing()
    assert "my_azure_imds" in inv.hostvars(listing)["z1"]
    found = set(inv.groups(listing))
    tag_groups = {"azure_tag__environment__prod", "azure_tag__environment__dev"}
    assert tag_groups <= found
    assert {g for g in found if g.startswith("azure_tag")} == tag_groups
    assert set(listing["azure_tags"]["children"]) == tag_groups
    assert {"zone_1", "zone_2", "zone_x", "azure_zone_1", "azure_location_westus"} <= found
    off = documents_inventory(tmp_path / "off", ZONES, default_groups=False)
    assert set(inv.groups(off.listing())) == {"azure_imds"}


def test_include_and_exclude_choose_hosts_before_groups(tmp_path: Path) -> None:
    twin = {"osProfile": {"computerName": "same"}}
    vms = {
        **ZONES,
        "dup1": {**twin, "tags": {"Environment": "test"}},
        "dup2": {**twin, "tags": {"Environment": "test"}},
    }
    result = documents_inventory(
        tmp_path,
        vms,
        include=["azure_imds.tags.Environment == 'prod'", "azure_imds.placement.zone is none"],
        exclude=["azure_imds.placement.zone == '2'", "azure_imds.tags.Environment == 'test'"],
    )
    listing = result.listing()
    assert set(inv.hostvars(listing)) == {"z1", "none"}
    assert "azure_zone_2" not in inv.groups(listing)
    assert result.warnings() == []  # the excluded duplicates were never named


def test_verbose_output_names_no_secret(tmp_path: Path) -> None:
    secret = "c2VjcmV0LXVzZXItZGF0YQ=="  # base64 of "secret-user-data"
    result = documents_inventory(
        tmp_path, {"vm": {"userData": secret, "customData": secret}}, hostnames=["name"]
    )
    listing_text = result.listed
    assert result.returncode == 0
    assert "secret-user-data" not in listing_text and secret not in listing_text
    assert not re.search("user_data|custom_data", listing_text)
