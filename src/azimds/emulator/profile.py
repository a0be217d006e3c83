"""VM profiles: what one emulated VM is, loaded from YAML/JSON and checked.

A profile holds the VM's instance document in its newest form (``compute`` and ``network``),
its load balancer metadata, the api-versions its region offers, its rate limit and any faults
scripted from the start. Everything not given falls back to the built-in default profile.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import yaml

from ..imds import versions
from .faults import FaultError, fault_from_mapping
from .ratelimit import RateLimit

PROFILE_KEYS = frozenset(
    {"compute", "network", "loadbalancer", "api_versions", "rate_limit", "faults", "attested"}
)


class ProfileError(ValueError):
    """A VM profile is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class VMProfile:
    """One emulated VM: its newest-form document and how its IMDS behaves."""

    instance: Dict[str, Any]
    loadbalancer: Optional[Dict[str, Any]]
    api_versions: Tuple[str, ...] = versions.INSTANCE_VERSIONS
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(True, 5, 1.0))
    faults: Tuple[Dict[str, Any], ...] = ()
    attested: Dict[str, Any] = field(default_factory=dict)
    source: str = "<built-in default>"

    @property
    def name(self) -> str:
        """Return the VM's name (compute.name)."""
        return str(self.instance["compute"]["name"])

    @property
    def vm_id(self) -> str:
        """Return the VM's unique id (compute.vmId)."""
        return str(self.instance["compute"]["vmId"])

    def summary(self) -> Dict[str, str]:
        """Return the few facts that identify this VM in listings and manifests."""
        compute = self.instance["compute"]
        return {
            key: str(compute.get(key, ""))
            for key in (
                "name",
                "vmId",
                "location",
                "zone",
                "vmSize",
                "resourceGroupName",
                "vmScaleSetName",
            )
        }


def default_profile() -> VMProfile:
    """Return the built-in profile: one Linux VM in westus, zone 1, every field populated."""
    return profile_from_mapping({}, source="<built-in default>")


def load_profile(path: Union[str, Path]) -> VMProfile:
    """Return the profile in the YAML or JSON file at ``path``, over the built-in default.

    Raises:
        ProfileError: the file cannot be read or parsed, or a key or value is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read VM profile {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"VM profile {path} is not valid YAML/JSON: {exc}") from None
    return profile_from_mapping(data if data is not None else {}, source=str(path))


def profile_from_mapping(data: Any, source: str = "<mapping>") -> VMProfile:
    """Return the profile described by ``data`` (a parsed profile file) over the default.

    Scalars become strings as IMDS serves them, a ``tags`` mapping becomes ``tagsList``, and
    the ``tags`` string is always derived from ``tagsList``.

    Raises:
        ProfileError: a key is unknown or a value has the wrong type.
    """
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: a VM profile must be a mapping, got {type(data).__name__}")
    unknown = set(data) - PROFILE_KEYS
    if unknown:
        raise ProfileError(
            f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(PROFILE_KEYS)}"
        )
    base = _default_data()
    override = _section(data, "compute", source)
    compute = _merge(base["compute"], override, "compute", source)
    network = _section(data, "network", source) or base["network"]
    instance = {"compute": compute, "network": network}
    instance = _stringify(instance, "", source)
    _set_tags(instance["compute"], "tagsList" in override, source)
    instance["compute"] = dict(sorted(instance["compute"].items()))  # IMDS serves keys sorted
    _check_required(instance, source)

    loadbalancer = data.get("loadbalancer", base["loadbalancer"])
    if loadbalancer is not None:
        if not isinstance(loadbalancer, Mapping):
            raise ProfileError(f"{source}: 'loadbalancer' must be a mapping or null")
        loadbalancer = _stringify(loadbalancer, "loadbalancer", source)

    return VMProfile(
        instance=instance,
        loadbalancer=loadbalancer,
        api_versions=_api_versions(data.get("api_versions"), source),
        rate_limit=_rate_limit(data.get("rate_limit"), source),
        faults=tuple(_faults(data.get("faults"), source)),
        attested=dict(_section(data, "attested", source)),
        source=source,
    )


def tags_string(tags_list: List[Mapping[str, str]]) -> str:
    """Return the legacy ``tags`` string IMDS derives from ``tagsList`` (name:value;...)."""
    return ";".join(f"{tag['name']}:{tag['value']}" for tag in tags_list)


_DEFAULT_CACHE: Dict[str, Any] = {}


def _default_data() -> Dict[str, Any]:
    if "data" not in _DEFAULT_CACHE:
        text = resources.files("azimds").joinpath("data/default-profile.yaml").read_text("utf-8")
        _DEFAULT_CACHE["data"] = yaml.safe_load(text)
    return copy.deepcopy(_DEFAULT_CACHE["data"])


def _section(data: Mapping[str, Any], key: str, source: str) -> Dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProfileError(f"{source}: '{key}' must be a mapping, got {type(value).__name__}")
    return dict(value)


def _merge(base: Dict[str, Any], override: Mapping[str, Any], where: str, source: str) -> Any:
    merged = dict(base)
    for key, value in override.items():
        if not isinstance(key, str):
            raise ProfileError(f"{source}: key {key!r} under '{where}' must be a string")
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key != "tags":
            merged[key] = _merge(merged[key], value, f"{where}.{key}", source)
        else:
            merged[key] = value
    return merged


def _stringify(node: Any, where: str, source: str) -> Any:
    """Return ``node`` with every scalar as IMDS serves it: a string ("true"/"false" for bools)."""
    if isinstance(node, Mapping):
        return {
            str(k): _stringify(v, f"{where}.{k}" if where else str(k), source)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_stringify(item, f"{where}[]", source) for item in node]
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        return ""
    if isinstance(node, (int, float, str)):
        return str(node)
    raise ProfileError(f"{source}: '{where}' has a value of type {type(node).__name__}")


def _set_tags(compute: Dict[str, Any], list_given: bool, source: str) -> None:
    tags = compute.get("tags")
    if isinstance(tags, Mapping):
        compute["tagsList"] = [{"name": str(k), "value": str(v)} for k, v in tags.items()]
    elif isinstance(tags, str) and tags and not list_given:  # not the default's tagsList
        raise ProfileError(f"{source}: give tags as a mapping or as tagsList, not as a string")
    tags_list = compute.get("tagsList", [])
    if not isinstance(tags_list, list) or not all(
        isinstance(t, Mapping) and set(t) == {"name", "value"} for t in tags_list
    ):
        raise ProfileError(
            f"{source}: 'compute.tagsList' must be a list of {{name: ..., value: ...}} mappings"
        )
    compute["tagsList"] = tags_list
    compute["tags"] = tags_string(tags_list)


def _check_required(instance: Mapping[str, Any], source: str) -> None:
    compute = instance["compute"]
    for key in ("name", "vmId", "location"):
        if not compute.get(key):
            raise ProfileError(f"{source}: 'compute.{key}' must be a non-empty string")
    interfaces = instance["network"].get("interface")
    if not isinstance(interfaces, list):
        raise ProfileError(f"{source}: 'network.interface' must be a list of interfaces")


def _api_versions(value: Any, source: str) -> Tuple[str, ...]:
    if value is None:
        return versions.INSTANCE_VERSIONS
    if isinstance(value, Mapping):  # {oldest: ..., newest: ...}
        extra = sorted(str(key) for key in value if key not in ("oldest", "newest"))
        if extra:
            raise ProfileError(
                f"{source}: 'api_versions' takes oldest and newest only, not {extra}"
            )
        oldest = str(value.get("oldest", versions.OLDEST))
        newest = str(value.get("newest", versions.NEWEST))
        named = [oldest, newest]
        chosen = versions.versions_between(oldest, newest)
    elif isinstance(value, list):
        chosen = named = [str(v) for v in value]
    else:
        raise ProfileError(
            f"{source}: 'api_versions' must be a list of versions or {{oldest:, newest:}}"
        )
    unknown = [v for v in named if not versions.is_known(v)]
    if unknown or not chosen:
        raise ProfileError(
            f"{source}: 'api_versions' names no known version or unknown ones {unknown}; "
            f"known: {versions.OLDEST} .. {versions.NEWEST}"
        )
    return tuple(sorted(set(chosen)))


def _rate_limit(value: Any, source: str) -> RateLimit:
    if value is None:
        return RateLimit(True, 5, 1.0)
    if isinstance(value, bool):
        return RateLimit(value, 5, 1.0)
    if not isinstance(value, Mapping):
        raise ProfileError(f"{source}: 'rate_limit' must be true, false or a mapping")
    try:
        limit = RateLimit(
            enabled=bool(value.get("enabled", True)),
            requests=int(value.get("requests", 5)),
            per_seconds=float(value.get("per_seconds", 1.0)),
        )
    except (TypeError, ValueError, OverflowError):  # OverflowError: requests: .inf
        raise ProfileError(
            f"{source}: 'rate_limit' needs integer requests and numeric per_seconds"
        ) from None
    if limit.requests < 1 or not limit.per_seconds > 0:  # also NaN
        raise ProfileError(f"{source}: 'rate_limit' needs requests >= 1 and per_seconds > 0")
    return limit


def _faults(value: Any, source: str) -> List[Dict[str, Any]]:
    specs = _list_of_mappings(value, "faults", source)
    for index, spec in enumerate(specs):
        try:
            fault_from_mapping(spec)
        except FaultError as exc:
            raise ProfileError(f"{source}: 'faults[{index}]': {exc}") from None
    return specs


def _list_of_mappings(value: Any, key: str, source: str) -> List[Dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ProfileError(f"{source}: '{key}' must be a list of mappings")
    return [dict(v) for v in value]
