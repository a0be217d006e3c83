"""Normalization: an instance document as IMDS served it, read into the model (``model.py``).

Every value is read through ``_Node``, whose getters check the JSON type IMDS serves and say
which field was wrong (``MalformedDocument``). Two fields are read leniently: customData and
userData, opaque data the VM's owner chose, that no fact depends on. One that cannot be decoded
is left None with a line in ``Instance.field_warnings``, so that one odd field does not take
every other fact away.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

import base64
import binascii
import socket
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..imds.errors import MalformedDocument
from ..imds.paths import element_at, is_ascii_digits, key_path
from . import tags as tag_parser
from .model import (
    DataDisk,
    ExtendedLocation,
    Image,
    Instance,
    Interface,
    Network,
    OsDisk,
    OsProfile,
    Placement,
    Plan,
    PublicKey,
    Secret,
    Security,
    Storage,
)
from .tags import is_json_object, json_kind

MAX_DIGITS = 19  # IMDS numbers fit in 64 bits; more digits is not a number IMDS sends


def normalize(document: Mapping[str, Any], api_version: str) -> Instance:
    """Return the normalized view of an instance ``document`` served at ``api_version``.

    Raises:
        MalformedDocument: the document, or one of its fields, has a type or value IMDS does
            not send (a list where an object belongs, a non-numeric fault domain, ...). The
            message names the field.
    """
    if not is_json_object(document):
        raise MalformedDocument("(document)", f"must be an object, found {json_kind(document)}")
    root = _Node(document, "")
    compute = root.node("compute")
    network = root.node("network")
    if compute is None or network is None:
        missing = "compute" if compute is None else "network"
        raise MalformedDocument(missing, "is missing: an instance document has compute and network")
    parsed_tags = tag_parser.parse_tags(compute.data)  # MalformedTags is a MalformedDocument
    field_warnings: List[str] = []
    custom_data = compute.secret("customData", field_warnings)
    user_data = compute.secret("userData", field_warnings)
    return Instance(
        api_version=api_version,
        vm_id=compute.text("vmId"),
        name=compute.text("name"),
        resource_id=compute.text("resourceId"),
        subscription_id=compute.text("subscriptionId"),
        resource_group=compute.text("resourceGroupName"),
        az_environment=compute.text("azEnvironment"),
        vm_size=compute.text("vmSize"),
        os_type=compute.text("osType") or _os_disk_type(compute),
        priority=compute.text("priority"),
        eviction_policy=compute.text("evictionPolicy"),
        license_type=compute.text("licenseType"),
        placement=_placement(compute),
        image=_image(compute),
        plan=_plan(compute),
        os_profile=_os_profile(compute.section("osProfile")),
        security=_security(compute.section("securityProfile")),
        storage=_storage(compute.node("storageProfile")),
        network=_network(network),
        public_keys=_public_keys(compute),
        tags=parsed_tags.tags if parsed_tags.source is not None else None,
        tag_warnings=parsed_tags.warnings,
        field_warnings=tuple(field_warnings),
        custom_data=custom_data,
        user_data=user_data,
    )


def _os_disk_type(compute: _Node) -> Optional[str]:
    """Return the OS disk's osType, for documents whose compute.osType is empty."""
    return compute.section("storageProfile").section("osDisk").text("osType")


# --- sections ------------------------------------------------------------------------------


def _placement(compute: _Node) -> Placement:
    extended = compute.section("extendedLocation")
    ext_type, ext_name = extended.text("type"), extended.text("name")
    return Placement(
        location=compute.text("location"),
        zone=compute.text("zone"),
        physical_zone=compute.text("physicalZone"),
        fault_domain=compute.number("platformFaultDomain"),
        update_domain=compute.number("platformUpdateDomain"),
        sub_fault_domain=compute.number("platformSubFaultDomain"),
        placement_group_id=compute.text("placementGroupId"),
        scale_set_name=compute.text("vmScaleSetName"),
        scale_set_id=compute.section("virtualMachineScaleSet").text("id"),
        host_id=compute.section("host").text("id"),
        host_group_id=compute.section("hostGroup").text("id"),
        extended_location=(
            ExtendedLocation(type=ext_type, name=ext_name) if ext_type or ext_name else None
        ),
    )


def _image(compute: _Node) -> Image:
    reference = compute.section("storageProfile").section("imageReference")

    def either(key: str) -> Optional[str]:
        return compute.text(key) or reference.text(key)

    return Image(
        publisher=either("publisher"),
        offer=either("offer"),
        sku=either("sku"),
        version=either("version"),
        exact_version=reference.text("exactVersion"),
        id=reference.text("id"),
        shared_gallery_image_id=reference.text("sharedGalleryImageId"),
        community_gallery_image_id=reference.text("communityGalleryImageId"),
    )


def _plan(compute: _Node) -> Optional[Plan]:
    plan = compute.section("plan")
    name, product, publisher = plan.text("name"), plan.text("product"), plan.text("publisher")
    if name is None and product is None and publisher is None:
        return None
    return Plan(name=name, product=product, publisher=publisher)


def _os_profile(profile: _Node) -> OsProfile:
    return OsProfile(
        admin_username=profile.text("adminUsername"),
        computer_name=profile.text("computerName"),
        password_authentication_disabled=profile.flag("disablePasswordAuthentication"),
    )


def _security(profile: _Node) -> Security:
    return Security(
        security_type=profile.text("securityType"),
        secure_boot_enabled=profile.flag("secureBootEnabled"),
        virtual_tpm_enabled=profile.flag("virtualTpmEnabled"),
        encryption_at_host=profile.flag("encryptionAtHost"),
    )


def _storage(profile: Optional[_Node]) -> Storage:
    if profile is None:
        return Storage(os_disk=None, data_disks=None, resource_disk_size_mb=None)
    os_disk = profile.node("osDisk")
    data_disks = profile.nodes("dataDisks")
    return Storage(
        os_disk=_os_disk(os_disk) if os_disk is not None else None,
        data_disks=tuple(_data_disk(d) for d in data_disks) if data_disks is not None else None,
        resource_disk_size_mb=profile.section("resourceDisk").number("size"),
    )


def _disk(disk: _Node) -> Dict[str, Any]:
    """Return the fields every disk has (``model.DISK_FIELDS``), by name."""
    managed = disk.section("managedDisk")
    return {
        "name": disk.text("name"),
        "size_gb": disk.number("diskSizeGB"),
        "caching": disk.text("caching"),
        "create_option": disk.text("createOption"),
        "storage_account_type": managed.text("storageAccountType"),
        "managed_disk_id": managed.text("id"),
        "vhd_uri": disk.section("vhd").text("uri"),
        "image_uri": disk.section("image").text("uri"),
        "write_accelerator_enabled": disk.flag("writeAcceleratorEnabled"),
    }


def _os_disk(disk: _Node) -> OsDisk:
    return OsDisk(
        **_disk(disk),
        os_type=disk.text("osType"),
        encryption_enabled=disk.section("encryptionSettings").flag("enabled"),
        ephemeral_option=disk.section("diffDiskSettings").text("option"),
    )


def _data_disk(disk: _Node) -> DataDisk:
    return DataDisk(
        **_disk(disk),
        lun=disk.number("lun"),
        capacity_bytes=disk.number("diskCapacityBytes"),
        bytes_per_second_throttle=disk.number("bytesPerSecondThrottle"),
        ops_per_second_throttle=disk.number("opsPerSecondThrottle"),
        is_shared_disk=disk.flag("isSharedDisk"),
        is_ultra_disk=disk.flag("isUltraDisk"),
    )


def _public_keys(compute: _Node) -> Optional[Tuple[PublicKey, ...]]:
    keys = compute.nodes("publicKeys")
    if keys is None:
        return None
    return tuple(PublicKey(key_data=k.text("keyData"), path=k.text("path")) for k in keys)


def _network(network: _Node) -> Network:
    interfaces = tuple(_interface(nic) for nic in network.nodes("interface") or [])
    first = interfaces[0] if interfaces else None
    return Network(
        interfaces=interfaces,
        primary_private_ipv4=first.private_ipv4[0] if first and first.private_ipv4 else None,
        primary_public_ipv4=first.public_ipv4[0] if first and first.public_ipv4 else None,
    )


def _interface(nic: _Node) -> Interface:
    v4_private, v4_public, v4_subnets = _addresses(nic.section("ipv4"), 4)
    v6_private, v6_public, v6_subnets = _addresses(nic.section("ipv6"), 6)
    return Interface(
        mac=_mac(nic, "macAddress"),
        private_ipv4=v4_private,
        public_ipv4=v4_public,
        ipv4_subnets=v4_subnets,
        private_ipv6=v6_private,
        public_ipv6=v6_public,
        ipv6_subnets=v6_subnets,
    )


_Addresses = Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]


def _addresses(family: _Node, version: int) -> _Addresses:
    """Return (private addresses, public addresses, subnets as CIDR) of an ipv4/ipv6 node."""
    private: List[str] = []
    public: List[str] = []
    entries = family.data.get("ipAddress")
    if entries is not None and entries != "":
        if not isinstance(entries, list):
            raise MalformedDocument(
                family.where("ipAddress"), f"must be a list, found {json_kind(entries)}"
            )
        for index, entry in enumerate(entries):
            where = element_at(family.where("ipAddress"), index)
            if isinstance(entry, str):  # the 2019 documentation shows bare IPv6 strings
                private.extend(_ip(entry, version, where))
                continue
            if not is_json_object(entry):
                raise MalformedDocument(where, f"must be an object, found {json_kind(entry)}")
            address = _Node(entry, where)
            for key, found in (("privateIpAddress", private), ("publicIpAddress", public)):
                found.extend(_ip(address.text(key), version, address.where(key)))
    subnets = [_cidr(subnet, version) for subnet in family.nodes("subnet") or []]
    return tuple(private), tuple(public), tuple(s for s in subnets if s is not None)


_FAMILY = {4: (socket.AF_INET, 32), 6: (socket.AF_INET6, 128)}


def _packed(text: str, version: int) -> Optional[bytes]:
    """Return the binary form of an IPv``version`` address, or None when it is not one.

    socket.inet_pton validates in C; ipaddress objects cost more than the whole fetch.
    """
    try:
        return socket.inet_pton(_FAMILY[version][0], text)
    except (OSError, ValueError):
        return None


def _ip(text: Optional[str], version: int, where: str) -> List[str]:
    """Return ``[address]`` in canonical form, or ``[]`` when ``text`` is absent."""
    if text is None:
        return []
    packed = _packed(text, version)
    if packed is None:
        problem = f"must be an IPv{version} address, found {_shown(text)}"
        raise MalformedDocument(where, problem)
    return [socket.inet_ntop(_FAMILY[version][0], packed)]


def _cidr(subnet: _Node, version: int) -> Optional[str]:
    """Return ``address/prefix`` of a subnet node, or None when both are absent."""
    address, prefix = subnet.text("address"), subnet.text("prefix")
    if address is None and prefix is None:
        return None
    family, bits = _FAMILY[version]
    packed = None if address is None else _packed(address, version)
    if (
        address is not None
        and packed is None
        and _packed(address, 6 if version == 4 else 4) is not None
    ):
        problem = f"must be an IPv{version} network, found {address!r}"
        raise MalformedDocument(subnet.where("address"), problem)
    valid_prefix = prefix is not None and is_ascii_digits(prefix)
    if packed is None or not valid_prefix or int(prefix or 0) > bits:
        raise MalformedDocument(
            subnet.path,
            f"must have an IPv{version} address and a numeric prefix, found address "
            f"{_shown(address)} and prefix {_shown(prefix)}",
        )
    length = int(prefix or 0)
    mask = ((1 << length) - 1) << (bits - length)
    network = (int.from_bytes(packed, "big") & mask).to_bytes(bits // 8, "big")
    return f"{socket.inet_ntop(family, network)}/{length}"


_HEX_DIGITS = frozenset("0123456789abcdef")


def _mac(nic: _Node, key: str) -> Optional[str]:
    """Return the MAC address as ``00:0d:3a:36:dd:ed`` (IMDS serves ``000D3A36DDED``)."""
    text = nic.text(key)
    if text is None:
        return None
    digits = text.replace(":", "").replace("-", "").lower()
    if len(digits) != 12 or not _HEX_DIGITS.issuperset(digits):
        problem = f"must be 12 hexadecimal digits, found {_shown(text)}"
        raise MalformedDocument(nic.where(key), problem)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


# --- reading typed values ------------------------------------------------------------------


class _Node:
    """One object of the document and its path, with getters that check types.

    Every getter returns None for a key that is absent or ``""``.
    """

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        """Return the path of ``key`` under this node."""
        return key_path(self.path, key)

    def text(self, key: str) -> Optional[str]:
        """Return the string at ``key``; raise MalformedDocument if it is not a string."""
        value = self.data.get(key)
        if isinstance(value, str):
            return value or None
        if value is None:
            return None
        raise MalformedDocument(self.where(key), f"must be a string, found {json_kind(value)}")

    def number(self, key: str) -> Optional[int]:
        """Return the whole number (at most ``MAX_DIGITS`` digits) at ``key``; raise
        MalformedDocument if it is not one."""
        value = self.data.get(key)
        if isinstance(value, str):  # IMDS serves numbers as strings
            digits = value[1:] if value.startswith("-") else value
            if len(digits) <= MAX_DIGITS and is_ascii_digits(digits):
                return int(value)
            if value == "":
                return None
        elif value is None:
            return None
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**MAX_DIGITS:
            return value
        problem = f"must be a whole number of at most {MAX_DIGITS} digits, found {_shown(value)}"
        raise MalformedDocument(self.where(key), problem)

    def flag(self, key: str) -> Optional[bool]:
        """Return the boolean at ``key`` ("true"/"false"); raise MalformedDocument otherwise."""
        value = self.data.get(key)
        if isinstance(value, str):  # IMDS serves booleans as strings
            lowered = value.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if value == "":
                return None
        elif value is None or isinstance(value, bool):
            return value
        problem = f'must be "true" or "false", found {_shown(value)}'
        raise MalformedDocument(self.where(key), problem)

    def node(self, key: str) -> Optional[_Node]:
        """Return the object at ``key`` as a node; raise MalformedDocument if not an object."""
        value = self.data.get(key)
        if is_json_object(value):
            return _Node(value, self.where(key))
        if value is None or value == "":
            return None
        raise MalformedDocument(self.where(key), f"must be an object, found {json_kind(value)}")

    def section(self, key: str) -> _Node:
        """Return the object at ``key``, or an empty node when it is absent."""
        found = self.node(key)
        return found if found is not None else _EMPTY

    def nodes(self, key: str) -> Optional[List[_Node]]:
        """Return the list of objects at ``key``; raise MalformedDocument on anything else."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, list):
            raise MalformedDocument(self.where(key), f"must be a list, found {json_kind(value)}")
        found: List[_Node] = []
        for index, item in enumerate(value):
            where = element_at(self.where(key), index)
            if not is_json_object(item):
                raise MalformedDocument(where, f"must be an object, found {json_kind(item)}")
            found.append(_Node(item, where))
        return found

    def secret(self, key: str, warnings: List[str]) -> Optional[Secret]:
        """Return the base64 data at ``key`` decoded, or None when absent.

        Data that is not a base64 string is left out (None) and said so in ``warnings``,
        which never show the value.
        """
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            warnings.append(
                f"{self.where(key)} must be a base64 string, found {json_kind(value)}; "
                "left out, every other fact is read"
            )
            return None
        try:
            raw = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            warnings.append(
                f"{self.where(key)} is not valid base64 (value not shown); left out, every "
                "other fact is read"
            )
            return None
        try:
            return Secret(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return Secret(raw)


_EMPTY = _Node({}, "(absent)")  # no getter can fail on it, so its path is never shown


def _shown(value: Any) -> str:
    """Return ``value`` for an error message: strings quoted and cut at 40 characters."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return json_kind(value)
