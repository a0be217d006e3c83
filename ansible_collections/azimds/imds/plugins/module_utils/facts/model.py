# GENERATED from src/azimds/facts/model.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""The normalized model of an IMDS instance document, the same for every api-version.

``normalize(document, api_version)`` (written in ``normalize.py``) turns the JSON IMDS served
into these immutable types, with one meaning for "absent": a field the api-version does not
serve and a field IMDS serves as ``""`` (present, not applicable) are both None. Booleans
(``"true"``/``"false"``) become bool, numeric strings int, MAC addresses are written
``00:0d:3a:36:dd:ed``, subnets as CIDR, tags a dict, customData/userData decoded from base64
and hidden from repr and str.

Each type is a ``typing.NamedTuple``: immutable, compared as a tuple of its values, with
``_fields`` and ``_asdict()`` for the shapes. Named tuples rather than frozen dataclasses
because this module is imported afresh in every Ansible run and every cold Salt fetch, and
creating these classes as dataclasses took about ten times as long.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

# No ``from __future__ import annotations`` here: typing.NamedTuple checks every field's type
# when it creates the class, and an annotation kept as a string must be compiled first.
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple, Union

from ..imds.errors import MalformedDocument as MalformedDocument  # part of the model API


class Secret:
    """The decoded customData or userData: text (str) or, if not UTF-8, bytes.

    repr, str and format show ``<hidden>``, never the value; call ``reveal()`` to get it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Union[str, bytes]) -> None:
        self._value = value

    def reveal(self) -> Union[str, bytes]:
        """Return the value: str when the data is UTF-8 text, bytes otherwise."""
        return self._value

    def to_bytes(self) -> bytes:
        """Return the value as bytes (text encoded as UTF-8)."""
        value = self._value
        return value.encode("utf-8") if isinstance(value, str) else value

    @property
    def is_text(self) -> bool:
        """Return True when the data is UTF-8 text (``reveal()`` gives a str)."""
        return isinstance(self._value, str)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    def __str__(self) -> str:
        return "<hidden>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ExtendedLocation(NamedTuple):
    """An extended location (edge zone) the VM runs in: ``type`` (e.g. EdgeZone) and name."""

    type: Optional[str]
    name: Optional[str]


class Placement(NamedTuple):
    """Where the VM runs: region, zone, fault/update domains, scale set, dedicated host."""

    location: Optional[str]
    zone: Optional[str]
    physical_zone: Optional[str]
    fault_domain: Optional[int]
    update_domain: Optional[int]
    sub_fault_domain: Optional[int]
    placement_group_id: Optional[str]
    scale_set_name: Optional[str]
    scale_set_id: Optional[str]
    host_id: Optional[str]
    host_group_id: Optional[str]
    extended_location: Optional[ExtendedLocation]


class Image(NamedTuple):
    """The image the VM was built from: marketplace reference, custom or gallery image ids."""

    publisher: Optional[str]
    offer: Optional[str]
    sku: Optional[str]
    version: Optional[str]
    exact_version: Optional[str]
    id: Optional[str]
    shared_gallery_image_id: Optional[str]
    community_gallery_image_id: Optional[str]


class Plan(NamedTuple):
    """The marketplace purchase plan of the image."""

    name: Optional[str]
    product: Optional[str]
    publisher: Optional[str]


class OsProfile(NamedTuple):
    """The OS settings Azure provisioned: admin user, computer name, password login."""

    admin_username: Optional[str]
    computer_name: Optional[str]
    password_authentication_disabled: Optional[bool]


class Security(NamedTuple):
    """The security profile: Trusted Launch settings and encryption at host."""

    security_type: Optional[str]
    secure_boot_enabled: Optional[bool]
    virtual_tpm_enabled: Optional[bool]
    encryption_at_host: Optional[bool]


# What every disk has, first in OsDisk and in DataDisk alike (a named tuple inherits no fields).
DISK_FIELDS = (
    "name",
    "size_gb",
    "caching",
    "create_option",
    "storage_account_type",
    "managed_disk_id",
    "vhd_uri",
    "image_uri",
    "write_accelerator_enabled",
)


class OsDisk(NamedTuple):
    """The OS disk: the fields of every disk (``DISK_FIELDS``), then its own."""

    name: Optional[str]
    size_gb: Optional[int]
    caching: Optional[str]
    create_option: Optional[str]
    storage_account_type: Optional[str]
    managed_disk_id: Optional[str]
    vhd_uri: Optional[str]
    image_uri: Optional[str]
    write_accelerator_enabled: Optional[bool]
    os_type: Optional[str]
    encryption_enabled: Optional[bool]
    ephemeral_option: Optional[str]


class DataDisk(NamedTuple):
    """One data disk: the fields of every disk (``DISK_FIELDS``), then its own; throttles and
    capacity are served from 2021-05-01."""

    name: Optional[str]
    size_gb: Optional[int]
    caching: Optional[str]
    create_option: Optional[str]
    storage_account_type: Optional[str]
    managed_disk_id: Optional[str]
    vhd_uri: Optional[str]
    image_uri: Optional[str]
    write_accelerator_enabled: Optional[bool]
    lun: Optional[int]
    capacity_bytes: Optional[int]
    bytes_per_second_throttle: Optional[int]
    ops_per_second_throttle: Optional[int]
    is_shared_disk: Optional[bool]
    is_ultra_disk: Optional[bool]


class Storage(NamedTuple):
    """Disks: None when the api-version has no storageProfile (before 2019-06-01)."""

    os_disk: Optional[OsDisk]
    data_disks: Optional[Tuple[DataDisk, ...]]
    resource_disk_size_mb: Optional[int]


class Interface(NamedTuple):
    """One network interface: MAC, addresses and subnets (CIDR), empty entries dropped."""

    mac: Optional[str]
    private_ipv4: Tuple[str, ...]
    public_ipv4: Tuple[str, ...]
    ipv4_subnets: Tuple[str, ...]
    private_ipv6: Tuple[str, ...]
    public_ipv6: Tuple[str, ...]
    ipv6_subnets: Tuple[str, ...]


class Network(NamedTuple):
    """The interfaces in the order IMDS served them, and the primary IPv4 addresses.

    IMDS does not guarantee interface order. The primary addresses are the first private and
    the first public IPv4 address of the first interface served, which is the VM's primary
    interface on single-NIC VMs; on multi-NIC VMs, pick an interface by its MAC instead.
    """

    interfaces: Tuple[Interface, ...]
    primary_private_ipv4: Optional[str]
    primary_public_ipv4: Optional[str]


class PublicKey(NamedTuple):
    """An SSH public key Azure placed on the VM, and the file it went to."""

    key_data: Optional[str]
    path: Optional[str]


class Instance(NamedTuple):
    """The normalized instance document. None means absent: not served or served as ``""``.

    ``tags`` is None only when the document has neither ``tags`` nor ``tagsList``;
    ``tag_warnings`` lists what was ambiguous in the legacy tags string. ``field_warnings``
    lists the fields that could not be read and were left None (customData or userData that
    is not base64): every other field is still there. Both are for a person to see, e.g. on
    stderr or in a tool's log: ``warnings`` gives them together. ``custom_data`` and
    ``user_data`` are Secrets: repr and str show ``Secret(<hidden>)``, never the value.
    """

    api_version: str
    vm_id: Optional[str]
    name: Optional[str]
    resource_id: Optional[str]
    subscription_id: Optional[str]
    resource_group: Optional[str]
    az_environment: Optional[str]
    vm_size: Optional[str]
    os_type: Optional[str]
    priority: Optional[str]
    eviction_policy: Optional[str]
    license_type: Optional[str]
    placement: Placement
    image: Image
    plan: Optional[Plan]
    os_profile: OsProfile
    security: Security
    storage: Storage
    network: Network
    public_keys: Optional[Tuple[PublicKey, ...]]
    tags: Optional[Dict[str, str]]
    tag_warnings: Tuple[str, ...] = ()
    field_warnings: Tuple[str, ...] = ()
    custom_data: Optional[Secret] = None
    user_data: Optional[Secret] = None

    @property
    def warnings(self) -> Tuple[str, ...]:
        """Return every warning for the tool's user, one line each: fields, then tags.

        What every adapter shows (a log line, a module warning, stderr); never a secret's value.
        Not a field: the shapes carry ``field_warnings`` and ``tag_warnings`` themselves.
        """
        return self.field_warnings + self.tag_warnings


def normalize(document: Mapping[str, Any], api_version: str) -> Instance:
    """Return the normalized view of an instance ``document`` served at ``api_version``.

    Raises:
        MalformedDocument: the document, or one of its fields, has a type or value IMDS does
            not send (a list where an object belongs, a non-numeric fault domain, ...). The
            message names the field. customData or userData that cannot be decoded is not an
            error: see ``Instance.field_warnings``.
    """
    from .normalize import normalize as build  # normalize.py builds the types of this module

    return build(document, api_version)
