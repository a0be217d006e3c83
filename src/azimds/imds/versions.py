"""The api-versions of Azure IMDS and the version at which each field first appeared.

This is the one table of versions, of the nodes of the instance document and of when each
appeared. The client reads it to know what a version offers, and which paths cannot exist
before it asks; the emulator reads it to decide what to serve at a requested version. Paths
are written as ``paths.py`` says.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .paths import element_path, is_ascii_digits, is_index, key_path

# Every api-version of /metadata/instance, oldest first.
INSTANCE_VERSIONS: Tuple[str, ...] = (
    "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01",
    "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
    "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15",
    "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
    "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13",
    "2023-07-01", "2023-11-15", "2024-03-15", "2024-07-17", "2025-04-07",
)  # fmt: skip

# Scheduled events have their own version line.
SCHEDULED_EVENTS_VERSIONS: Tuple[str, ...] = (
    "2017-08-01", "2017-11-01", "2019-01-01", "2019-04-01", "2019-08-01", "2020-07-01",
)  # fmt: skip

# The first api-version at which each endpoint under /metadata answers.
ENDPOINT_INTRODUCED: Mapping[str, str] = {
    "instance": "2017-03-01",
    "identity": "2018-02-01",
    "attested": "2018-10-01",
    "loadbalancer": "2020-10-01",
}

# The first api-version at which a node of the instance document appears. A path names dict
# keys joined by "."; "[]" stands for every element of an array. A node absent from this table
# appeared with its parent. The oldest version (2017-03-01) serves the 2017-04-02 base fields.
FIELD_INTRODUCED: Mapping[str, str] = {
    "compute.placementGroupId": "2017-08-01",
    "compute.resourceGroupName": "2017-08-01",
    "compute.subscriptionId": "2017-08-01",
    "compute.tags": "2017-08-01",
    "compute.vmScaleSetName": "2017-12-01",
    "compute.zone": "2017-12-01",
    "compute.plan": "2018-04-02",
    "compute.publicKeys": "2018-04-02",
    "compute.azEnvironment": "2018-10-01",
    "compute.provider": "2018-10-01",
    "compute.customData": "2019-02-01",
    "compute.resourceId": "2019-03-11",
    "compute.storageProfile": "2019-06-01",
    "compute.tagsList": "2019-06-04",
    "compute.isHostCompatibilityLayerVm": "2020-06-01",
    "compute.securityProfile": "2020-06-01",
    "compute.osProfile": "2020-07-15",
    "compute.licenseType": "2020-09-01",
    "compute.osProfile.disablePasswordAuthentication": "2020-10-01",
    "compute.priority": "2020-12-01",
    "compute.evictionPolicy": "2020-12-01",
    "compute.userData": "2021-01-01",
    "compute.storageProfile.resourceDisk": "2021-02-01",
    "compute.extendedLocation": "2021-03-01",
    "compute.virtualMachineScaleSet": "2021-03-01",
    "compute.storageProfile.dataDisks[].bytesPerSecondThrottle": "2021-05-01",
    "compute.storageProfile.dataDisks[].diskCapacityBytes": "2021-05-01",
    "compute.storageProfile.dataDisks[].isSharedDisk": "2021-05-01",
    "compute.storageProfile.dataDisks[].isUltraDisk": "2021-05-01",
    "compute.storageProfile.dataDisks[].opsPerSecondThrottle": "2021-05-01",
    "compute.platformSubFaultDomain": "2021-10-01",
    "compute.additionalCapabilities": "2021-11-01",
    "compute.securityProfile.encryptionAtHost": "2021-11-01",
    "compute.host": "2021-11-15",
    "compute.hostGroup": "2021-11-15",
    "compute.securityProfile.securityType": "2021-12-13",
    "compute.storageProfile.imageReference.communityGalleryImageId": "2023-07-01",
    "compute.storageProfile.imageReference.sharedGalleryImageId": "2023-07-01",
    "compute.storageProfile.imageReference.exactVersion": "2023-07-01",
    "compute.physicalZone": "2023-11-15",
}

# Every node of the instance document azimds knows, at any api-version, shaped like the
# document: a dict for an object, a one-element list for an array (the shape of its elements),
# VALUE for a single value. FIELD_INTRODUCED says from which version each is served.
VALUE = "value"
_URI = {"uri": VALUE}
_MANAGED_DISK = {"id": VALUE, "storageAccountType": VALUE}
_DISK = {
    "caching": VALUE,
    "createOption": VALUE,
    "diskSizeGB": VALUE,
    "image": _URI,
    "managedDisk": _MANAGED_DISK,
    "name": VALUE,
    "vhd": _URI,
    "writeAcceleratorEnabled": VALUE,
}
_ADDRESSES = {
    "ipAddress": [{"privateIpAddress": VALUE, "publicIpAddress": VALUE}],
    "subnet": [{"address": VALUE, "prefix": VALUE}],
}
DOCUMENT_SHAPE: Mapping[str, Any] = {
    "compute": {
        "additionalCapabilities": {"hibernationEnabled": VALUE},
        "azEnvironment": VALUE,
        "customData": VALUE,
        "evictionPolicy": VALUE,
        "extendedLocation": {"name": VALUE, "type": VALUE},
        "host": {"id": VALUE},
        "hostGroup": {"id": VALUE},
        "isHostCompatibilityLayerVm": VALUE,
        "licenseType": VALUE,
        "location": VALUE,
        "name": VALUE,
        "offer": VALUE,
        "osProfile": {
            "adminUsername": VALUE,
            "computerName": VALUE,
            "disablePasswordAuthentication": VALUE,
        },
        "osType": VALUE,
        "physicalZone": VALUE,
        "placementGroupId": VALUE,
        "plan": {"name": VALUE, "product": VALUE, "publisher": VALUE},
        "platformFaultDomain": VALUE,
        "platformSubFaultDomain": VALUE,
        "platformUpdateDomain": VALUE,
        "priority": VALUE,
        "provider": VALUE,
        "publicKeys": [{"keyData": VALUE, "path": VALUE}],
        "publisher": VALUE,
        "resourceGroupName": VALUE,
        "resourceId": VALUE,
        "securityProfile": {
            "encryptionAtHost": VALUE,
            "secureBootEnabled": VALUE,
            "securityType": VALUE,
            "virtualTpmEnabled": VALUE,
        },
        "sku": VALUE,
        "storageProfile": {
            "dataDisks": [
                {
                    **_DISK,
                    "bytesPerSecondThrottle": VALUE,
                    "diskCapacityBytes": VALUE,
                    "isSharedDisk": VALUE,
                    "isUltraDisk": VALUE,
                    "lun": VALUE,
                    "opsPerSecondThrottle": VALUE,
                }
            ],
            "imageReference": {
                "communityGalleryImageId": VALUE,
                "exactVersion": VALUE,
                "id": VALUE,
                "offer": VALUE,
                "publisher": VALUE,
                "sharedGalleryImageId": VALUE,
                "sku": VALUE,
                "version": VALUE,
            },
            "osDisk": {
                **_DISK,
                "diffDiskSettings": {"option": VALUE},
                "encryptionSettings": {"enabled": VALUE},
                "osType": VALUE,
            },
            "resourceDisk": {"size": VALUE},
        },
        "subscriptionId": VALUE,
        "tags": VALUE,
        "tagsList": [{"name": VALUE, "value": VALUE}],
        "userData": VALUE,
        "version": VALUE,
        "virtualMachineScaleSet": {"id": VALUE},
        "vmId": VALUE,
        "vmScaleSetName": VALUE,
        "vmSize": VALUE,
        "zone": VALUE,
    },
    "network": {"interface": [{"ipv4": _ADDRESSES, "ipv6": _ADDRESSES, "macAddress": VALUE}]},
}

# The first api-version of the attested document at which each signed content field appears.
ATTESTED_FIELD_INTRODUCED: Mapping[str, str] = {
    "nonce": "2018-10-01",
    "plan": "2018-10-01",
    "timeStamp": "2018-10-01",
    "vmId": "2018-10-01",
    "subscriptionId": "2019-04-30",
    "sku": "2019-11-01",
    "licenseType": "2020-09-01",
}

NEWEST: str = INSTANCE_VERSIONS[-1]
OLDEST: str = INSTANCE_VERSIONS[0]


def is_known(version: str) -> bool:
    """Return True when ``version`` is an api-version of /metadata/instance that azimds knows."""
    return version in _INDEX


def is_well_formed(version: str) -> bool:
    """Return True when ``version`` has the form of an api-version: YYYY-MM-DD in ASCII digits."""
    parts = version.split("-")
    return [len(part) for part in parts] == [4, 2, 2] and all(map(is_ascii_digits, parts))


def newest_common(
    offered: Iterable[str], known: Iterable[str] = INSTANCE_VERSIONS
) -> Optional[str]:
    """Return the newest version present in both ``offered`` and ``known``, or None."""
    common = set(offered) & set(known)
    return max(common) if common else None


def field_introduced(path: str) -> str:
    """Return the api-version at which the node at ``path`` (e.g. ``compute.tagsList``) appeared.

    A path not in the table inherits from its nearest listed ancestor; a top-level node dates
    from the oldest version.
    """
    probe = path
    while probe:
        if probe in FIELD_INTRODUCED:
            return FIELD_INTRODUCED[probe]
        probe = probe.rpartition(".")[0]
    return OLDEST


def offers(version: str, path: str) -> bool:
    """Return True when a document of ``version`` carries the node at ``path``."""
    return version >= field_introduced(path)


def document_at(document: Mapping[str, Any], version: str) -> Dict[str, Any]:
    """Return a copy of an instance ``document`` holding only the fields ``version`` serves.

    ``document`` is the newest form (compute + network); fields introduced after ``version``
    are dropped at every depth, array elements included.
    """
    return _pruned_object(document, "", version)


def node_problem(segments: Sequence[str], version: str) -> Optional[str]:
    """Return why no instance document of ``version`` can have the node at ``segments``
    (request-path segments, e.g. ``["compute", "zone"]``), or None when one may.

    Only what the table knows is judged: a node that appeared after ``version`` is left to
    the version checks (``offers``), an index past the end of an array to IMDS.
    """
    shape: Any = DOCUMENT_SHAPE
    path = ""
    for depth, segment in enumerate(segments):
        where = "/".join(segments[:depth]) or "the instance document"
        if isinstance(shape, list):
            if not is_index(segment):
                return f"{where} is a list: its elements are numbered 0, 1, ..., not '{segment}'"
            shape, path = shape[0], element_path(path)
        elif isinstance(shape, dict):
            if segment not in shape:
                names = [name for name in shape if offers(version, key_path(path, name))]
                alike = [name for name in names if name.lower() == segment.lower()]
                guess = f"; did you mean '{alike[0]}'?" if alike else ""
                listing = f"at api-version {version} it has: {', '.join(names)}"
                return f"{where} has no '{segment}'{guess} {listing[0].upper()}{listing[1:]}"
            shape, path = shape[segment], key_path(path, segment)
        else:
            return f"{where} is a single value: it has no '{segment}'"
    return None


def attested_content_at(content: Mapping[str, Any], version: str) -> Dict[str, Any]:
    """Return the attested-document ``content`` holding only the fields ``version`` signs."""
    return {
        key: value
        for key, value in content.items()
        if version >= ATTESTED_FIELD_INTRODUCED.get(key, ENDPOINT_INTRODUCED["attested"])
    }


def versions_between(oldest: str, newest: str) -> List[str]:
    """Return the known instance versions from ``oldest`` to ``newest`` inclusive, oldest first."""
    return [v for v in INSTANCE_VERSIONS if oldest <= v <= newest]


_INDEX = frozenset(INSTANCE_VERSIONS)


def _pruned(node: Any, path: str, version: str) -> Any:
    """Return ``node`` (at field path ``path``) without what ``version`` does not serve."""
    if isinstance(node, dict):
        return _pruned_object(node, path, version)
    if isinstance(node, list):
        return [_pruned(item, element_path(path), version) for item in node]
    return node


def _pruned_object(node: Mapping[str, Any], path: str, version: str) -> Dict[str, Any]:
    kept: Dict[str, Any] = {}
    for key, value in node.items():
        child = key_path(path, key)
        if version >= FIELD_INTRODUCED.get(child, OLDEST):
            kept[key] = _pruned(value, child, version)
    return kept
