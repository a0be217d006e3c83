"""Fleets: many VM profiles from a fleet spec or from a directory of profile files.

A fleet spec says how many VMs go where and how they vary; generation is deterministic for a
given ``seed``. Example (YAML)::

    seed: 7
    locations: {westus2: 600, eastus: 400}      # VMs per location (the total is the sum)
    zones: ["1", "2", "3"]                        # spread evenly; [] or [""] for no zones
    fault_domains: 3                              # 0, 1, 2 in turn
    update_domains: 5
    sizes: {Standard_D2s_v5: 3, Standard_E4s_v5: 1}   # weights (or a list, spread evenly)
    tags:                                         # each tag: weights or a list of values
      Environment: {prod: 6, dev: 4}
      Role: [web, db, cache]
    scale_sets: {count: 4, share: 0.5}            # half the VMs in 4 scale sets
    name_prefix: vm
    resource_group: fleet-rg
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Union

import yaml

from .profile import ProfileError, VMProfile, load_profile, profile_from_mapping

SPEC_KEYS = frozenset(
    {
        "seed",
        "locations",
        "zones",
        "fault_domains",
        "update_domains",
        "sizes",
        "tags",
        "scale_sets",
        "name_prefix",
        "resource_group",
        "subscription_id",
        "count",
    }
)
_NAMESPACE = uuid.UUID("6f1d7a3c-2b1e-4c55-9a0e-5d4c3b2a1f00")


def load_fleet(source: Union[str, Path]) -> List[VMProfile]:
    """Return the VMs of a fleet spec file, or of every profile file in a directory.

    Raises:
        ProfileError: the spec or a profile is invalid, or the directory holds no profiles.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        if not files:
            raise ProfileError(f"{path}: no profile files (*.yaml, *.yml, *.json) in directory")
        return [load_profile(p) for p in files]
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read fleet spec {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"fleet spec {path} is not valid YAML/JSON: {exc}") from None
    return generate_fleet(spec if spec is not None else {}, source=str(path))


def generate_fleet(spec: Mapping[str, Any], source: str = "<fleet spec>") -> List[VMProfile]:
    """Return the VM profiles a fleet ``spec`` describes (see the module docstring).

    Raises:
        ProfileError: a key is unknown or a value has the wrong shape.
    """
    if not isinstance(spec, Mapping):
        raise ProfileError(f"{source}: a fleet spec must be a mapping")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ProfileError(
            f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}"
        )
    rng = random.Random(spec.get("seed", 0))
    locations = _locations(spec, source)
    zones = [str(z) for z in _as_list(spec.get("zones", ["1", "2", "3"]), "zones", source)] or [""]
    fault_domains = _positive(spec.get("fault_domains", 3), "fault_domains", source)
    update_domains = _positive(spec.get("update_domains", 5), "update_domains", source)
    sizes = _weighted(spec.get("sizes", {"Standard_D2s_v5": 1}), "sizes", source)
    tags = spec.get("tags", {"Environment": ["prod", "dev"]})
    if not isinstance(tags, Mapping):
        raise ProfileError(f"{source}: 'tags' must map tag names to values or weights")
    tag_choices = {
        str(name): _weighted(values, f"tags.{name}", source) for name, values in tags.items()
    }
    scale_sets = spec.get("scale_sets", {"count": 0, "share": 0})
    if not isinstance(scale_sets, Mapping):
        raise ProfileError(f"{source}: 'scale_sets' must be {{count: N, share: 0..1}}")
    set_count = int(scale_sets.get("count", 0))
    share = float(scale_sets.get("share", 0))
    prefix = str(spec.get("name_prefix", "vm"))
    group = str(spec.get("resource_group", "fleet-rg"))
    subscription = str(spec.get("subscription_id", "8d10da13-8125-4ba9-a717-bf7490507b3d"))

    profiles: List[VMProfile] = []
    index = 0
    for location, count in locations:
        for within in range(count):
            in_set = set_count > 0 and rng.random() < share
            scale_set = f"{prefix}-vmss{rng.randrange(set_count)}" if in_set else ""
            compute = _compute(
                index=index,
                prefix=prefix,
                location=location,
                zone=zones[within % len(zones)],
                fault_domain=within % fault_domains,
                update_domain=within % update_domains,
                size=_pick(rng, sizes),
                tags={n: _pick(rng, c) for n, c in tag_choices.items()},
                scale_set=scale_set,
                group=group,
                subscription=subscription,
                seed=spec.get("seed", 0),
            )
            data = {"compute": compute, "network": _network(index)}
            profiles.append(profile_from_mapping(data, source=f"{source}#{compute['name']}"))
            index += 1
    return profiles


def _compute(
    *,
    index: int,
    prefix: str,
    location: str,
    zone: str,
    fault_domain: int,
    update_domain: int,
    size: str,
    tags: Dict[str, str],
    scale_set: str,
    group: str,
    subscription: str,
    seed: Any,
) -> Dict[str, Any]:
    name = f"{scale_set}_{index}" if scale_set else f"{prefix}{index:04d}"
    provider = "Microsoft.Compute"
    vm_id = str(uuid.uuid5(_NAMESPACE, f"{seed}/{index}"))
    scope = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider}"
    resource_id = (
        f"{scope}/virtualMachineScaleSets/{scale_set}/virtualMachines/{index}"
        if scale_set
        else f"{scope}/virtualMachines/{name}"
    )
    return {
        "name": name,
        "vmId": vm_id,
        "location": location,
        "zone": zone,
        "physicalZone": f"{location}-az0{zone}" if zone else "",
        "platformFaultDomain": str(fault_domain),
        "platformUpdateDomain": str(update_domain),
        "vmSize": size,
        "tags": tags,
        "vmScaleSetName": scale_set,
        "virtualMachineScaleSet": {
            "id": f"{scope}/virtualMachineScaleSets/{scale_set}" if scale_set else ""
        },
        "resourceGroupName": group,
        "subscriptionId": subscription,
        "resourceId": resource_id,
        "osProfile": {"computerName": name.replace("_", "-")},
    }


def _network(index: int) -> Dict[str, Any]:
    third, fourth = divmod(index + 4, 250)
    mac = f"000D3A{index >> 16 & 0xFF:02X}{index >> 8 & 0xFF:02X}{index & 0xFF:02X}"
    return {
        "interface": [
            {
                "ipv4": {
                    "ipAddress": [
                        {
                            "privateIpAddress": f"10.{third // 250}.{third % 250}.{fourth}",
                            "publicIpAddress": "",
                        }
                    ],
                    "subnet": [{"address": f"10.{third // 250}.{third % 250}.0", "prefix": "24"}],
                },
                "ipv6": {"ipAddress": []},
                "macAddress": mac,
            }
        ]
    }


def _locations(spec: Mapping[str, Any], source: str) -> List[tuple[str, int]]:
    value = spec.get("locations")
    if value is None:
        return [("westus2", _positive(spec.get("count", 10), "count", source))]
    if not isinstance(value, Mapping) or not value:
        raise ProfileError(f"{source}: 'locations' must map location names to VM counts")
    return [
        (str(k), _positive(v, f"locations.{k}", source, allow_zero=True)) for k, v in value.items()
    ]


def _as_list(value: Any, key: str, source: str) -> List[Any]:
    if not isinstance(value, list):
        raise ProfileError(f"{source}: '{key}' must be a list")
    return value


def _positive(value: Any, key: str, source: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        least = 0 if allow_zero else 1
        raise ProfileError(f"{source}: '{key}' must be a whole number of at least {least}")
    return value


def _weighted(value: Any, key: str, source: str) -> Sequence[tuple[str, float]]:
    """Return (choice, weight) pairs from a list (equal weights) or a mapping of weights."""
    if isinstance(value, list) and value:
        return [(str(v), 1.0) for v in value]
    if isinstance(value, Mapping) and value:
        try:
            pairs = [(str(k), float(w)) for k, w in value.items()]
        except (TypeError, ValueError):
            raise ProfileError(f"{source}: weights under '{key}' must be numbers") from None
        if any(w < 0 for _, w in pairs) or sum(w for _, w in pairs) <= 0:
            raise ProfileError(f"{source}: weights under '{key}' must be >= 0 and not all 0")
        return pairs
    raise ProfileError(f"{source}: '{key}' must be a non-empty list or a mapping of weights")


def _pick(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]
