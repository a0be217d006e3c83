"""The azure_imds plugin's documentation renders, and it claims only its own files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import inventory_support as inv

pytestmark = pytest.mark.timeout(300)


def test_ansible_doc_renders_the_plugin(tmp_path: Path) -> None:
    env = inv.environment(tmp_path)
    text = inv.run(["ansible-doc", "-t", "inventory", inv.PLUGIN], tmp_path, env)
    assert text.returncode == 0, text.output
    assert "Builds an inventory of Azure VMs" in " ".join(text.stdout.split())
    assert "[WARNING]" not in text.stderr
    data = inv.run(["ansible-doc", "-t", "inventory", "--json", inv.PLUGIN], tmp_path, env)
    doc = json.loads(data.stdout)[inv.PLUGIN]
    options = doc["doc"]["options"]
    for name in (
        "source",
        "hostnames",
        "documents",
        "endpoints",
        "include",
        "exclude",
        "compose",
        "keyed_groups",
        "cache",
        "fact_cache_plugin",
        "hostvars_prefix",
    ):
        assert name in options, name
    assert options["source"]["choices"] == ["fact_cache", "local", "documents", "endpoints"]
    examples = list(yaml.safe_load_all(doc["examples"]))
    assert len(examples) == 6
    assert all(example["plugin"] == inv.PLUGIN for example in examples)


def test_a_directory_inventory_gives_each_file_to_its_own_plugin(tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "hosts.ini").write_text("[web]\nstatic1 ansible_host=192.0.2.1\n", "utf-8")
    (folder / "more.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {"static2": {"x": 1}}}}), "utf-8"
    )
    # Named like ours but not ours by name: our plugin must decline it, not fail on it.
    (folder / "other.yaml").write_text(
        yaml.safe_dump({"plugin": "ansible.builtin.constructed", "groups": {"two": "x == 1"}}),
        "utf-8",
    )
    docs = folder / "docs"
    docs.mkdir()
    vm = inv.profile({"name": "azvm", "osProfile": {"computerName": "azvm"}})
    (docs / "azvm.json").write_text(json.dumps(inv.document(vm)), "utf-8")
    inv.write_config(folder, "cloud.azure_imds.yaml", source="documents", documents=["docs"])
    env = inv.environment(tmp_path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    result = inv.run(["ansible-inventory", "-i", str(folder), "--list"], tmp_path, env)
    assert result.returncode == 0, result.output
    listing = json.loads(result.stdout)
    assert set(listing["_meta"]["hostvars"]) == {"static1", "static2", "azvm"}
    assert listing["two"]["hosts"] == ["static2"]
    assert listing["azure_imds"]["hosts"] == ["azvm"]
    assert "azure_imds" not in result.stderr
