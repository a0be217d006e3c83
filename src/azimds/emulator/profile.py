"""VM profiles: what one emulated VM is, loaded from YAML/JSON and checked.

A profile holds the VM's instance document in its newest form (``compute`` and ``network``),
its load balancer metadata, the api-versions its region offers, its rate limit and any faults
scripted from the start. Everything not given falls back to the built-in default profile,
``azimds/data/default-profile.yaml``, which is also the schema: a key it does not have is not a
key IMDS serves (its fields are those of the api-version table, ``azimds.imds.versions``, as a
test checks), and a value must have the same shape as the default's (mapping, list or scalar).
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import yaml

from ..imds import versions
from .faults import FaultError, fault_from_mapping
from .ratelimit import RateLimit

# Other values of the default compute that embed these follow a profile that changes them:
# a VM named "web01" has the computerName, resourceId and disk names of web01.
IDENTITY_KEYS = ("name", "resourceGroupName", "subscriptionId")
ATTESTED_HAS_NO_SETTINGS = (
    "there is no 'attested' section: /metadata/attested/document signs vmId, plan, sku, "
    "subscriptionId and licenseType from 'compute', for the cloud of compute.azEnvironment; "
    "set those instead"
)


class ProfileError(ValueError):
    """A VM profile is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class VMProfile:
    """One emulated VM: its newest-form document and how its IMDS behaves."""

    instance: Dict[str, Any]
    loadbalancer: Optional[Dict[str, Any]]
    api_versions: Tuple[str, ...]
    rate_limit: RateLimit
    faults: Tuple[Dict[str, Any], ...]
    source: str

    @property
    def name(self) -> str:
        """Return the VM's name (compute.name)."""
        return str(self.instance["compute"]["name"])

    @property
    def vm_id(self) -> str:
        """Return the VM's unique id (compute.vmId)."""
        return str(self.instance["compute"]["vmId"])

    def summary(self) -> Dict[str, Any]:
        """Return the facts that identify and place this VM, as it serves them (strings),
        with its tags as a mapping: what listings and fleet manifests show."""
        compute = self.instance["compute"]
        facts: Dict[str, Any] = {
            key: str(compute.get(key, ""))
            for key in (
                "name",
                "vmId",
                "location",
                "zone",
                "platformFaultDomain",
                "platformUpdateDomain",
                "vmSize",
                "resourceGroupName",
                "subscriptionId",
                "vmScaleSetName",
                "resourceId",
            )
        }
        facts["tags"] = {tag["name"]: tag["value"] for tag in compute.get("tagsList", [])}
        return facts


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
    except UnicodeDecodeError:
        raise ProfileError(f"VM profile {path} is not UTF-8 text") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"VM profile {path} is not valid YAML/JSON: {exc}") from None
    return profile_from_mapping(data if data is not None else {}, source=str(path))


def profile_from_mapping(data: Any, source: str = "<mapping>") -> VMProfile:
    """Return the profile described by ``data`` (a parsed profile file) over the default.

    ``compute`` merges key by key into the default's; ``network`` and ``loadbalancer`` replace
    the default's. Scalars become strings as IMDS serves them, a ``tags`` mapping becomes
    ``tagsList``, and the ``tags`` string is always derived from ``tagsList``.

    Raises:
        ProfileError: a key is unknown or a value has the wrong shape or type; the message
            names ``source``, the key path and what is allowed.
    """
    check = _Checker(source)
    if not isinstance(data, Mapping):
        raise check.error(f"a VM profile must be a mapping, got {_kind(data)}")
    if "attested" in data:
        raise check.error(ATTESTED_HAS_NO_SETTINGS)
    default, schema = _default_data(), _schema()
    check.keys(data, default, "")

    override = dict(check.section(data, "compute"))
    check.keys(override, schema["compute"], "compute")
    tags = override.pop("tags", None)
    check.shape(override, schema["compute"], "compute")
    compute = _merge(_follow_identity(default["compute"], override), override)
    if tags is not None:
        if "tagsList" in override:
            raise check.error("give 'compute.tags' (a mapping) or 'compute.tagsList', not both")
        compute["tagsList"] = check.tags(tags)
    network = data.get("network")
    if network is None:
        network = default["network"]
    check.shape(network, schema["network"], "network")
    instance = _stringify({"compute": compute, "network": network})
    check.required(instance)
    _derive_tags(instance["compute"])
    instance["compute"] = dict(sorted(instance["compute"].items()))  # IMDS serves keys sorted

    loadbalancer = data.get("loadbalancer", default["loadbalancer"])
    if loadbalancer is not None:
        check.shape(loadbalancer, schema["loadbalancer"], "loadbalancer")
        loadbalancer = _stringify(loadbalancer)

    return VMProfile(
        instance=instance,
        loadbalancer=loadbalancer,
        api_versions=check.api_versions(data.get("api_versions", default["api_versions"])),
        rate_limit=check.rate_limit(data.get("rate_limit"), default["rate_limit"]),
        faults=tuple(check.faults(data.get("faults", default["faults"]))),
        source=source,
    )


def tags_string(tags_list: List[Mapping[str, str]]) -> str:
    """Return the legacy ``tags`` string IMDS derives from ``tagsList`` (name:value;...)."""
    return ";".join(f"{tag['name']}:{tag['value']}" for tag in tags_list)


class _Checker:
    """Checks the parts of one profile; every error names the source and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str) -> ProfileError:
        return ProfileError(f"{self.source}: {message}")

    def section(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"'{key}' must be a mapping, got {_kind(value)}")
        return value

    def keys(self, value: Mapping[Any, Any], template: Mapping[str, Any], where: str) -> None:
        """Refuse a key of ``value`` that ``template`` does not have."""
        for key in value:
            if not isinstance(key, str):
                raise self.error(f"key {key!r} under '{where or 'the profile'}' must be a string")
            if key not in template:
                path = f"{where}.{key}" if where else key
                close = difflib.get_close_matches(key, list(template), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                under = f"under '{where}'" if where else "at the top"
                raise self.error(
                    f"unknown key '{path}'{hint}; allowed {under}: {', '.join(sorted(template))}"
                )

    def shape(self, value: Any, template: Any, where: str) -> None:
        """Refuse ``value`` where it differs in shape or keys from ``template``."""
        if isinstance(template, Mapping):
            if not isinstance(value, Mapping):
                raise self.error(
                    f"'{where}' must be a mapping (IMDS serves an object), got {_kind(value)}"
                )
            self.keys(value, template, where)
            for key, item in value.items():
                self.shape(item, template[key], f"{where}.{key}")
        elif isinstance(template, list):
            if not isinstance(value, list):
                raise self.error(
                    f"'{where}' must be a list (IMDS serves an array), got {_kind(value)}"
                )
            if template:
                for index, item in enumerate(value):
                    self.shape(item, template[0], f"{where}[{index}]")
        elif not _is_scalar(value):
            raise self.error(
                f"'{where}' must be a string, number or boolean (IMDS serves one string), "
                f"got {_kind(value)}"
            )

    def tags(self, value: Any) -> List[Dict[str, str]]:
        if not isinstance(value, Mapping):
            raise self.error(
                "'compute.tags' must be a mapping of tag names to values (or give tagsList); "
                "the tags string is derived from them"
            )
        for name, item in value.items():
            if not _is_scalar(item) or not _is_scalar(name):
                raise self.error(f"'compute.tags.{name}' must be a string, number or boolean")
        return [{"name": k, "value": v} for k, v in value.items()]  # strings when served

    def required(self, instance: Mapping[str, Any]) -> None:
        compute = instance["compute"]
        for key in ("name", "vmId", "location"):
            if not compute.get(key):
                raise self.error(f"'compute.{key}' must be a non-empty string")
        for index, tag in enumerate(compute.get("tagsList", [])):
            if set(tag) != {"name", "value"}:
                raise self.error(f"'compute.tagsList[{index}]' needs both name and value")

    def api_versions(self, value: Any) -> Tuple[str, ...]:
        if value == "all":
            return versions.INSTANCE_VERSIONS
        if isinstance(value, Mapping):  # {oldest: ..., newest: ...}
            self.keys(value, {"oldest": "", "newest": ""}, "api_versions")
            oldest = str(value.get("oldest", versions.OLDEST))
            newest = str(value.get("newest", versions.NEWEST))
            named = [oldest, newest]
            chosen = versions.versions_between(oldest, newest)
        elif isinstance(value, list):
            chosen = named = [str(v) for v in value]
        else:
            raise self.error(
                "'api_versions' must be all, a list of versions or {oldest: ..., newest: ...}"
            )
        unknown = [v for v in named if not versions.is_known(v)]
        if unknown or not chosen:
            raise self.error(
                f"'api_versions' names no known version or unknown ones {unknown}; "
                f"known: {versions.OLDEST} .. {versions.NEWEST}"
            )
        return tuple(sorted(set(chosen)))

    def rate_limit(self, value: Any, default: Mapping[str, Any]) -> RateLimit:
        settings = dict(default)
        if isinstance(value, bool):
            settings["enabled"] = value
        elif isinstance(value, Mapping):
            self.keys(value, default, "rate_limit")
            settings.update(value)
        elif value is not None:
            raise self.error(
                "'rate_limit' must be true, false or "
                "{enabled: ..., requests: ..., per_seconds: ...}"
            )
        enabled, requests, per_seconds = (
            settings["enabled"],
            settings["requests"],
            settings["per_seconds"],
        )
        if not isinstance(enabled, bool):
            raise self.error(f"'rate_limit.enabled' must be true or false, got {enabled!r}")
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
            raise self.error(f"'rate_limit.requests' must be a whole number >= 1, got {requests!r}")
        if (
            isinstance(per_seconds, bool)
            or not isinstance(per_seconds, (int, float))
            or not (per_seconds > 0 and math.isfinite(per_seconds))  # also NaN
        ):
            raise self.error(f"'rate_limit.per_seconds' must be a number > 0, got {per_seconds!r}")
        return RateLimit(enabled, requests, float(per_seconds))

    def faults(self, value: Any) -> List[Dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(
                "'faults' must be a list of mappings, e.g. [{kind: status, status: 500}]"
            )
        for index, spec in enumerate(value):
            try:
                fault_from_mapping(spec)
            except FaultError as exc:
                raise self.error(f"'faults[{index}]': {exc}") from None
        return [dict(v) for v in value]


_DEFAULT_CACHE: Dict[str, Any] = {}


def _default_data() -> Dict[str, Any]:
    """Return a fresh copy of the default profile, as parsed from its YAML."""
    if "data" not in _DEFAULT_CACHE:
        text = resources.files("azimds").joinpath("data/default-profile.yaml").read_text("utf-8")
        _DEFAULT_CACHE["data"] = yaml.safe_load(text)
    return copy.deepcopy(_DEFAULT_CACHE["data"])


def _schema() -> Dict[str, Any]:
    """Return the default profile as a schema: an interface's ipv6 node takes the shape of its
    ipv4 node (IMDS uses one shape for both; the default VM has no IPv6 address to show it),
    and compute lists ``tags``, which a profile may give as a mapping instead of tagsList."""
    if "schema" not in _DEFAULT_CACHE:  # read only: shared by every check
        schema = _default_data()
        for interface in schema["network"]["interface"]:
            interface["ipv6"] = copy.deepcopy(interface["ipv4"])
        schema["compute"]["tags"] = {}
        _DEFAULT_CACHE["schema"] = schema
    cached: Dict[str, Any] = _DEFAULT_CACHE["schema"]
    return cached


def _merge(base: Dict[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Return ``base`` with ``override`` merged in: mappings key by key, anything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _follow_identity(compute: Dict[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the default ``compute`` with its name, resource group and subscription replaced,
    wherever other values embed them, by those ``override`` gives."""
    replacements = {
        str(compute[key]): str(override[key])
        for key in IDENTITY_KEYS
        if override.get(key) not in (None, "") and str(override[key]) != str(compute[key])
    }
    if not replacements:
        return compute
    pattern = re.compile("|".join(re.escape(old) for old in sorted(replacements, key=len)[::-1]))

    def follow(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: follow(value) for key, value in node.items()}
        if isinstance(node, list):
            return [follow(item) for item in node]
        if isinstance(node, str):
            return pattern.sub(lambda match: replacements[match.group(0)], node)
        return node

    followed: Dict[str, Any] = follow(compute)
    return followed


def _stringify(node: Any) -> Any:
    """Return ``node`` with every scalar as IMDS serves it: a string ("true"/"false" for bools)."""
    if isinstance(node, Mapping):
        return {str(k): _stringify(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify(item) for item in node]
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        return ""
    return str(node)


def _derive_tags(compute: Dict[str, Any]) -> None:
    """Set the ``tags`` string from ``tagsList``, as IMDS derives it."""
    compute["tags"] = tags_string(compute.get("tagsList", []))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return f"{type(value).__name__} {_shown(value)}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
