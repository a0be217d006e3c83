"""The normalized model in the idiom of each host tool: Ansible facts, Salt grains, cloud-init
(metadata and, optionally, network configuration).

Every function here is pure: it takes a ``model.Instance`` and returns a new JSON-serializable
dict, with the same vocabulary (zone, fault_domain, vm_id, tags, ...) in each tool's form.
customData and userData are left out unless asked for with ``include_secrets=True``; then each
is None or ``{"text": <str or None>, "base64": <str>}``: ``text`` is the decoded text (None
when the data is not UTF-8), ``base64`` always holds the raw bytes.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Optional, Tuple

from .model import Instance, Secret

SECRET_FIELDS = ("custom_data", "user_data")
CLOUD_NAME = "azure"


def ansible_facts(instance: Instance, include_secrets: bool = False) -> Dict[str, Any]:
    """Return the facts to set under ``ansible_facts['azure_imds']``.

    The keys are the model's attribute names, nested as in the model (``placement.zone``,
    ``network.primary_private_ipv4``, ``tags.Environment``); absent values are None, tuples
    are lists. customData/userData are included only when ``include_secrets`` is True.
    """
    facts: Dict[str, Any] = {}
    for name, value in zip(instance._fields, instance):
        if name not in SECRET_FIELDS:
            facts[name] = _plain(value)
    if include_secrets:
        facts["custom_data"] = _secret(instance.custom_data)
        facts["user_data"] = _secret(instance.user_data)
    return facts


def salt_grains(instance: Instance, include_secrets: bool = False) -> Dict[str, Any]:
    """Return the grains to set under the ``azure`` key.

    The same keys as ``ansible_facts`` except that placement is lifted to the top, so targets
    are short: ``salt -G 'azure:zone:1'``, ``-G 'azure:fault_domain:0'``,
    ``-G 'azure:tags:Environment:Prod'``. Zone stays a string and domains stay ints: Salt
    compares a grain to a target through ``str(value).lower()``, so both match.
    """
    facts = ansible_facts(instance, include_secrets=include_secrets)
    grains: Dict[str, Any] = facts.pop("placement")
    grains.update(facts)
    return grains


def cloud_init_metadata(instance: Instance) -> Dict[str, Any]:
    """Return cloud-init datasource metadata (instance-data v1 keys, hyphenated).

    Standard keys: instance-id (vmId), local-hostname (osProfile.computerName, else name),
    availability-zone, region, cloud-name and platform ("azure"), public-keys (the key
    strings). Azure extras use the same vocabulary hyphenated: vm-size, fault-domain, tags, ...
    customData/userData are never included: cloud-init takes user data separately.
    """
    placement = instance.placement
    return {
        "instance-id": instance.vm_id,
        "local-hostname": instance.os_profile.computer_name or instance.name,
        "availability-zone": placement.zone,
        "region": placement.location,
        "cloud-name": CLOUD_NAME,
        "platform": CLOUD_NAME,
        "public-keys": _key_strings(instance),
        "vm-size": instance.vm_size,
        "physical-zone": placement.physical_zone,
        "fault-domain": placement.fault_domain,
        "update-domain": placement.update_domain,
        "scale-set-name": placement.scale_set_name,
        "subscription-id": instance.subscription_id,
        "resource-group": instance.resource_group,
        "resource-id": instance.resource_id,
        "priority": instance.priority,
        "az-environment": instance.az_environment,
        "private-ipv4": instance.network.primary_private_ipv4,
        "public-ipv4": instance.network.primary_public_ipv4,
        "tags": dict(instance.tags) if instance.tags is not None else None,
        "api-version": instance.api_version,
    }


def cloud_init_network_config(instance: Instance) -> Dict[str, Any]:
    """Return a cloud-init network configuration (version 2) for the instance's interfaces.

    Each interface that has a MAC and an address becomes ``eth0``, ``eth1``, ... in the order
    IMDS served them, matched by MAC and by the ``hv_netvsc`` driver (with accelerated
    networking, a virtual function shares the MAC of its synthetic interface and must not be
    configured). The first IPv4 (IPv6) address comes from DHCP; further ones are static, with
    the prefix of the interface's first subnet (24 or 128 without one). Route metrics grow by
    100 per interface, so the first one served carries the default route.
    """
    ethernets: Dict[str, Any] = {}
    for index, nic in enumerate(instance.network.interfaces):
        if nic.mac is None or not (nic.private_ipv4 or nic.private_ipv6):
            continue
        metric = {"route-metric": (index + 1) * 100}
        config: Dict[str, Any] = {
            "match": {"macaddress": nic.mac, "driver": "hv_netvsc"},
            "set-name": f"eth{index}",
            "dhcp4": bool(nic.private_ipv4),
            "dhcp6": bool(nic.private_ipv6),
        }
        if nic.private_ipv4:
            config["dhcp4-overrides"] = metric
        if nic.private_ipv6:
            config["dhcp6-overrides"] = metric
        static = [
            f"{address}/{_prefix(nic.ipv4_subnets, 24)}" for address in nic.private_ipv4[1:]
        ] + [f"{address}/{_prefix(nic.ipv6_subnets, 128)}" for address in nic.private_ipv6[1:]]
        if static:
            config["addresses"] = static
        ethernets[f"eth{index}"] = config
    return {"version": 2, "ethernets": ethernets}


def _prefix(subnets: Tuple[str, ...], default: int) -> int:
    """Return the prefix length of the first CIDR subnet, or ``default`` when there is none."""
    if subnets and "/" in subnets[0]:
        return int(subnets[0].rsplit("/", 1)[1])
    return default


def _key_strings(instance: Instance) -> List[str]:
    """Return the SSH public key strings of the instance (an empty list when none)."""
    keys = instance.public_keys or ()
    return [key.key_data for key in keys if key.key_data is not None]


def _plain(value: Any) -> Any:
    """Return ``value`` with the model's named tuples as dicts and other tuples as lists, for
    JSON and YAML."""
    if isinstance(value, Secret):
        raise TypeError("a Secret is never converted implicitly")
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a type of the model
        return {name: _plain(item) for name, item in zip(value._fields, value)}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _secret(secret: Optional[Secret]) -> Optional[Dict[str, Optional[str]]]:
    """Return ``{"text": ..., "base64": ...}`` for a secret, None when absent."""
    if secret is None:
        return None
    value = secret.reveal()
    return {
        "text": value if isinstance(value, str) else None,
        "base64": base64.b64encode(secret.to_bytes()).decode("ascii"),
    }
