"""The inventory cache (``cache: true``) keeps raw documents and rebuilds groups on every hit.

The endpoints source is cached in a jsonfile inventory cache; the emulator is then stopped,
so a second run can only be served from the cache. Its result must equal the first run's,
and a changed compose/keyed_groups must show on a hit: groups are never cached.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

import inventory_support as inv
from azimds.emulator import Emulator

pytestmark = pytest.mark.timeout(300)

VMS = {
    "app1": {"zone": "1", "tags": {"Role": "app"}},
    "app2": {"zone": "2", "tags": {"Role": "app"}},
    "db1": {"zone": "1", "tags": {"Role": "db"}},
}


def test_a_cache_hit_equals_the_miss_and_still_applies_the_current_groups(
    tmp_path: Path,
) -> None:
    profiles = [
        inv.profile(
            {
                **compute,
                "name": name,
                "vmId": f"00000000-0000-4000-8000-00000000000{i}",
                "osProfile": {"computerName": name},
            }
        )
        for i, (name, compute) in enumerate(VMS.items())
    ]
    cache_dir = tmp_path / "inventory-cache"
    options: Dict[str, Any] = {
        "source": "endpoints",
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(cache_dir),
        "timeout": 2,
    }
    env = inv.environment(tmp_path)
    with Emulator(profiles) as emulator:
        urls = [vm.base_url for vm in emulator.vms]
        config = inv.write_config(tmp_path, endpoints=urls, **options)
        miss = inv.inventory(config, env)
        assert sum(len(vm.requests) for vm in emulator.vms) == 3
    assert set(inv.hostvars(miss.listing())) == set(VMS)

    # The emulator is gone: only the cache can answer now.
    hit = inv.inventory(config, env)
    assert hit.listing() == miss.listing()
    assert hit.warnings() == []

    # The cache holds the documents as IMDS served them, and no group.
    cached = [p.read_text("utf-8") for p in cache_dir.iterdir()]
    assert len(cached) == 1
    assert '\\"compute\\"' in cached[0] and "azure_zone" not in cached[0]

    # New groups and variables apply on a hit: they are built anew from the cached documents.
    changed = inv.write_config(
        tmp_path,
        endpoints=urls,
        keyed_groups=[{"prefix": "role", "key": "azure_imds.tags.Role"}],
        compose={"zone_number": "azure_imds.placement.zone | int"},
        **options,
    )
    rebuilt = inv.inventory(changed, env)
    listing = rebuilt.listing()
    groups = inv.groups(listing)
    assert groups["role_app"] == {"app1", "app2"} and groups["role_db"] == {"db1"}
    assert groups["azure_zone_1"] == {"app1", "db1"}
    assert inv.hostvars(listing)["app2"]["zone_number"] == 2

    # --flush-cache reads the source again: now unreachable, each host is reported.
    flushed = inv.inventory(changed, env, "--flush-cache")
    assert inv.hostvars(flushed.listing()) == {}
    assert sorted(w.split(": ")[1] for w in flushed.warnings()) == sorted(urls)


def test_an_unreadable_inventory_cache_is_a_miss(tmp_path: Path) -> None:
    cache_dir = tmp_path / "inventory-cache"
    profile = inv.profile({"name": "solo", "osProfile": {"computerName": "solo"}})
    with Emulator(profile) as emulator:
        config = inv.write_config(
            tmp_path,
            source="endpoints",
            endpoints=[emulator.base_url],
            cache=True,
            cache_plugin="ansible.builtin.jsonfile",
            cache_connection=str(cache_dir),
        )
        env = inv.environment(tmp_path)
        assert set(inv.hostvars(inv.inventory(config, env).listing())) == {"solo"}
        for path in cache_dir.iterdir():
            path.write_text(json.dumps({"__payload__": json.dumps({"not": "ours"})}), "utf-8")
        again = inv.inventory(config, env)
        assert set(inv.hostvars(again.listing())) == {"solo"}
        assert any("inventory cache entry is not this plugin's" in w for w in again.warnings())
        assert len(emulator.requests) == 2
