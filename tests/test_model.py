"""The normalized model, checked against documents of every api-version of the default VM."""

from __future__ import annotations

import base64
import copy
import pickle
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from azimds.emulator.profile import default_profile
from azimds.facts import shapes
from azimds.facts.model import (
    DISK_FIELDS,
    DataDisk,
    ExtendedLocation,
    Instance,
    Interface,
    MalformedDocument,
    OsDisk,
    Plan,
    PublicKey,
    Secret,
    normalize,
)
from azimds.imds import versions
from azimds.imds.errors import AzimdsError, MalformedResponse

NEWEST_DOC: Dict[str, Any] = default_profile().instance
VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"
SUBSCRIPTION = "8d10da13-8125-4ba9-a717-bf7490507b3d"
CLOUD_CONFIG = "#cloud-config\npackages: [nginx]\n"


def doc_at(version: str) -> Dict[str, Any]:
    """A document of the default VM as IMDS serves it at ``version`` (a fresh copy)."""
    return versions.document_at(copy.deepcopy(NEWEST_DOC), version)


def at(version: str) -> Instance:
    return normalize(doc_at(version), version)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def newest_with(**compute: Any) -> Dict[str, Any]:
    """The newest document with some compute fields replaced."""
    doc = doc_at(versions.NEWEST)
    doc["compute"].update(compute)
    return doc


# --- every api-version ---------------------------------------------------------------------

# (what to read from the model, the field it comes from, its value in the newest document)
FIELDS: List[Tuple[Callable[[Instance], Any], str, Any]] = [
    (lambda i: i.vm_id, "compute.vmId", VM_ID),
    (lambda i: i.name, "compute.name", "jubilee"),
    (lambda i: i.vm_size, "compute.vmSize", "Standard_D2s_v5"),
    (lambda i: i.placement.location, "compute.location", "westus"),
    (lambda i: i.placement.fault_domain, "compute.platformFaultDomain", 1),
    (lambda i: i.placement.update_domain, "compute.platformUpdateDomain", 1),
    (lambda i: i.subscription_id, "compute.subscriptionId", SUBSCRIPTION),
    (lambda i: i.resource_group, "compute.resourceGroupName", "myrg"),
    (lambda i: i.placement.zone, "compute.zone", "1"),
    (lambda i: i.az_environment, "compute.azEnvironment", "AzurePublicCloud"),
    (lambda i: i.resource_id, "compute.resourceId", NEWEST_DOC["compute"]["resourceId"]),
    (lambda i: i.security.secure_boot_enabled, "compute.securityProfile", True),
    (lambda i: i.security.virtual_tpm_enabled, "compute.securityProfile", True),
    (lambda i: i.os_profile.admin_username, "compute.osProfile", "azureuser"),
    (lambda i: i.os_profile.computer_name, "compute.osProfile", "jubilee"),
    (
        lambda i: i.os_profile.password_authentication_disabled,
        "compute.osProfile.disablePasswordAuthentication",
        True,
    ),
    (lambda i: i.priority, "compute.priority", "Regular"),
    (lambda i: i.storage.resource_disk_size_mb, "compute.storageProfile.resourceDisk", 16384),
    (lambda i: i.security.encryption_at_host, "compute.securityProfile.encryptionAtHost", False),
    (lambda i: i.security.security_type, "compute.securityProfile.securityType", "TrustedLaunch"),
    (
        lambda i: i.image.exact_version,
        "compute.storageProfile.imageReference.exactVersion",
        "22.04.202411010",
    ),
    (lambda i: i.placement.physical_zone, "compute.physicalZone", "westus-az01"),
    (lambda i: i.storage.os_disk and i.storage.os_disk.size_gb, "compute.storageProfile", 30),
    (
        lambda i: i.storage.data_disks and i.storage.data_disks[0].ops_per_second_throttle,
        "compute.storageProfile.dataDisks[].opsPerSecondThrottle",
        500,
    ),
    (
        lambda i: i.public_keys and i.public_keys[0].path,
        "compute.publicKeys",
        "/home/azureuser/.ssh/authorized_keys",
    ),
    (
        lambda i: i.tags,
        "compute.tags",
        {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"},
    ),
    # Served as "" by the default VM: present but not applicable, so None at every version.
    (lambda i: i.eviction_policy, "compute.evictionPolicy", None),
    (lambda i: i.license_type, "compute.licenseType", None),
    (lambda i: i.placement.placement_group_id, "compute.placementGroupId", None),
    (lambda i: i.placement.scale_set_name, "compute.vmScaleSetName", None),
    (lambda i: i.placement.scale_set_id, "compute.virtualMachineScaleSet", None),
    (lambda i: i.placement.sub_fault_domain, "compute.platformSubFaultDomain", None),
    (lambda i: i.placement.host_id, "compute.host", None),
    (lambda i: i.placement.host_group_id, "compute.hostGroup", None),
    (lambda i: i.placement.extended_location, "compute.extendedLocation", None),
    (lambda i: i.plan, "compute.plan", None),
    (lambda i: i.image.id, "compute.storageProfile", None),
    (lambda i: i.custom_data, "compute.customData", None),
    (lambda i: i.user_data, "compute.userData", None),
]


@pytest.mark.parametrize("version", versions.INSTANCE_VERSIONS)
def test_every_field_is_its_value_when_served_and_none_before(version: str) -> None:
    instance = at(version)
    assert instance.api_version == version
    for read, path, newest in FIELDS:
        expected = newest if versions.offers(version, path) else None
        assert read(instance) == expected, (version, path)


@pytest.mark.parametrize("version", versions.INSTANCE_VERSIONS)
def test_network_and_image_are_the_same_at_every_version(version: str) -> None:
    instance = at(version)
    assert instance.network.interfaces == (
        Interface(
            mac="00:0d:3a:36:dd:ed",
            private_ipv4=("10.1.2.5",),
            public_ipv4=("20.42.18.7",),
            ipv4_subnets=("10.1.2.0/24",),
            private_ipv6=(),
            public_ipv6=(),
            ipv6_subnets=(),
        ),
    )
    assert instance.network.primary_private_ipv4 == "10.1.2.5"
    assert instance.network.primary_public_ipv4 == "20.42.18.7"
    assert (instance.image.publisher, instance.image.offer, instance.image.sku) == (
        "canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
    )
    # The top-level version is the real one; imageReference.version says "latest".
    assert instance.image.version == "22.04.202411010"
    assert instance.os_type == "Linux"


def test_zone_is_none_at_2017_08_01_and_a_string_from_2017_12_01() -> None:
    assert at("2017-08-01").placement.zone is None
    assert at("2017-12-01").placement.zone == "1"


def test_tags_come_from_the_string_at_2019_06_01() -> None:
    doc = doc_at("2019-06-01")
    assert "tagsList" not in doc["compute"]
    assert doc["compute"]["tags"] == "Department:IT;Environment:Prod;Role:WorkerRole"
    instance = normalize(doc, "2019-06-01")
    assert instance.tags == {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"}


def test_tags_list_is_preferred_at_2019_06_04_even_when_the_string_disagrees() -> None:
    doc = doc_at("2019-06-04")
    doc["compute"]["tags"] = "Department:Finance;Stale:yes"
    assert normalize(doc, "2019-06-04").tags == {
        "Department": "IT",
        "Environment": "Prod",
        "Role": "WorkerRole",
    }


def test_tags_are_none_before_2017_08_01_and_empty_when_the_vm_has_none() -> None:
    assert at("2017-04-02").tags is None
    assert normalize(newest_with(tags="", tagsList=[]), versions.NEWEST).tags == {}


def test_ambiguous_tags_string_is_reported() -> None:
    doc = doc_at("2019-06-01")
    doc["compute"]["tags"] = "Note:a;b;Owner:ops"
    instance = normalize(doc, "2019-06-01")
    assert instance.tags == {"Note": "a;b", "Owner": "ops"}
    assert len(instance.tag_warnings) == 1


def test_data_disk_in_full() -> None:
    disks = at(versions.NEWEST).storage.data_disks
    assert disks == (
        DataDisk(
            lun=0,
            name="jubilee_data0",
            size_gb=128,
            caching="None",
            create_option="Empty",
            storage_account_type="Premium_LRS",
            managed_disk_id=(
                f"/subscriptions/{SUBSCRIPTION}/resourceGroups/myrg/providers/"
                "Microsoft.Compute/disks/jubilee_data0"
            ),
            vhd_uri=None,
            image_uri=None,
            write_accelerator_enabled=False,
            capacity_bytes=137438953472,
            bytes_per_second_throttle=104857600,
            ops_per_second_throttle=500,
            is_shared_disk=False,
            is_ultra_disk=False,
        ),
    )


def test_os_disk_of_the_newest_version() -> None:
    os_disk = at(versions.NEWEST).storage.os_disk
    assert os_disk is not None
    assert (os_disk.name, os_disk.os_type, os_disk.caching) == (
        "jubilee_OsDisk_1",
        "Linux",
        "ReadWrite",
    )
    assert (os_disk.encryption_enabled, os_disk.ephemeral_option) == (False, None)


def test_storage_is_absent_before_2019_06_01_and_disks_empty_when_the_vm_has_none() -> None:
    storage = at("2019-04-30").storage
    assert (storage.os_disk, storage.data_disks, storage.resource_disk_size_mb) == (
        None,
        None,
        None,
    )
    doc = doc_at(versions.NEWEST)
    doc["compute"]["storageProfile"]["dataDisks"] = []
    assert normalize(doc, versions.NEWEST).storage.data_disks == ()


def test_public_keys() -> None:
    keys = at(versions.NEWEST).public_keys
    assert keys == (
        PublicKey(
            key_data=NEWEST_DOC["compute"]["publicKeys"][0]["keyData"],
            path="/home/azureuser/.ssh/authorized_keys",
        ),
    )
    assert at("2018-02-01").public_keys is None


def test_plan_extended_location_gallery_image_and_dedicated_host_when_set() -> None:
    doc = newest_with(
        plan={"name": "5-0", "product": "f5-big-ip", "publisher": "f5-networks"},
        extendedLocation={"type": "EdgeZone", "name": "attatlanta1"},
        host={"id": "/subscriptions/x/hostGroups/g/hosts/h1"},
        platformSubFaultDomain="3",
        evictionPolicy="Deallocate",
        priority="Spot",
    )
    doc["compute"]["storageProfile"]["imageReference"]["sharedGalleryImageId"] = "/sg/img/1.0"
    instance = normalize(doc, versions.NEWEST)
    assert instance.plan == Plan(name="5-0", product="f5-big-ip", publisher="f5-networks")
    assert instance.placement.extended_location == ExtendedLocation(
        type="EdgeZone", name="attatlanta1"
    )
    assert instance.placement.host_id == "/subscriptions/x/hostGroups/g/hosts/h1"
    assert instance.placement.host_group_id is None
    assert instance.placement.sub_fault_domain == 3
    assert (instance.priority, instance.eviction_policy) == ("Spot", "Deallocate")
    assert instance.image.shared_gallery_image_id == "/sg/img/1.0"


# --- conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("served", "expected"),
    [("000D3A36DDED", "00:0d:3a:36:dd:ed"), ("00-0D-3A-36-DD-ED", "00:0d:3a:36:dd:ed"),
     ("7c:1e:52:00:AB:cd", "7c:1e:52:00:ab:cd"), ("", None)],
)  # fmt: skip
def test_mac_address_is_lowercase_and_colon_separated(served: str, expected: Optional[str]) -> None:
    doc = doc_at(versions.NEWEST)
    doc["network"]["interface"][0]["macAddress"] = served
    assert normalize(doc, versions.NEWEST).network.interfaces[0].mac == expected


def test_ipv6_addresses_and_subnets() -> None:
    doc = doc_at(versions.NEWEST)
    doc["network"]["interface"][0]["ipv6"] = {
        "ipAddress": [
            {"privateIpAddress": "FD00:0:0:0::5", "publicIpAddress": ""},
            {"privateIpAddress": "fd00::6", "publicIpAddress": "2603:1030::7"},
        ],
        "subnet": [{"address": "fd00::", "prefix": "64"}],
    }
    nic = normalize(doc, versions.NEWEST).network.interfaces[0]
    assert nic.private_ipv6 == ("fd00::5", "fd00::6")
    assert nic.public_ipv6 == ("2603:1030::7",)
    assert nic.ipv6_subnets == ("fd00::/64",)


@pytest.mark.parametrize(
    ("family", "address", "prefix", "cidr"),
    [
        ("ipv4", "10.1.2.5", "24", "10.1.2.0/24"),
        ("ipv4", "10.1.2.255", "25", "10.1.2.128/25"),
        ("ipv4", "10.1.2.5", "32", "10.1.2.5/32"),
        ("ipv4", "10.1.2.5", "0", "0.0.0.0/0"),
        ("ipv6", "fd00:1:2:3:4:5:6:7", "64", "fd00:1:2:3::/64"),
        ("ipv6", "fd00::ffff", "120", "fd00::ff00/120"),
    ],
)
def test_a_subnet_served_with_host_bits_is_its_network(
    family: str, address: str, prefix: str, cidr: str
) -> None:
    doc = doc_at(versions.NEWEST)
    nic = doc["network"]["interface"][0]
    nic[family] = {"ipAddress": [], "subnet": [{"address": address, "prefix": prefix}]}
    (interface,) = normalize(doc, versions.NEWEST).network.interfaces
    assert getattr(interface, f"{family}_subnets") == (cidr,)


def test_ipv6_as_bare_strings_is_accepted() -> None:
    doc = doc_at("2017-04-02")
    doc["network"]["interface"][0]["ipv6"] = {"ipAddress": ["fd00::5"]}
    assert normalize(doc, "2017-04-02").network.interfaces[0].private_ipv6 == ("fd00::5",)


def test_several_interfaces_keep_the_served_order_and_the_first_is_primary() -> None:
    doc = doc_at(versions.NEWEST)
    second = {
        "ipv4": {
            "ipAddress": [
                {"privateIpAddress": "10.1.3.4", "publicIpAddress": ""},
                {"privateIpAddress": "10.1.3.5", "publicIpAddress": "20.1.1.1"},
            ],
            "subnet": [{"address": "10.1.3.0", "prefix": "26"}],
        },
        "ipv6": {"ipAddress": []},
        "macAddress": "000D3A000002",
    }
    doc["network"]["interface"].insert(0, second)
    network = normalize(doc, versions.NEWEST).network
    assert [nic.mac for nic in network.interfaces] == ["00:0d:3a:00:00:02", "00:0d:3a:36:dd:ed"]
    assert network.interfaces[0].private_ipv4 == ("10.1.3.4", "10.1.3.5")
    assert network.interfaces[0].public_ipv4 == ("20.1.1.1",)
    assert network.interfaces[0].ipv4_subnets == ("10.1.3.0/26",)
    assert network.primary_private_ipv4 == "10.1.3.4"
    assert network.primary_public_ipv4 == "20.1.1.1"


def test_no_interfaces_means_no_primary_address() -> None:
    doc = doc_at(versions.NEWEST)
    doc["network"]["interface"] = []
    network = normalize(doc, versions.NEWEST).network
    assert (network.interfaces, network.primary_private_ipv4, network.primary_public_ipv4) == (
        (),
        None,
        None,
    )


def test_public_address_absent_is_none() -> None:
    doc = doc_at(versions.NEWEST)
    doc["network"]["interface"][0]["ipv4"]["ipAddress"][0]["publicIpAddress"] = ""
    network = normalize(doc, versions.NEWEST).network
    assert network.interfaces[0].public_ipv4 == ()
    assert network.primary_public_ipv4 is None


@pytest.mark.parametrize(
    ("served", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (True, True), ("", None)],
)
def test_booleans(served: Any, expected: Optional[bool]) -> None:
    doc = doc_at(versions.NEWEST)
    doc["compute"]["securityProfile"]["secureBootEnabled"] = served
    assert normalize(doc, versions.NEWEST).security.secure_boot_enabled is expected


@pytest.mark.parametrize(("served", "expected"), [("0", 0), ("17", 17), (2, 2), ("", None)])
def test_numbers(served: Any, expected: Optional[int]) -> None:
    instance = normalize(newest_with(platformFaultDomain=served), versions.NEWEST)
    assert instance.placement.fault_domain == expected


# --- malformed documents -------------------------------------------------------------------


def replace(path: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    """An edit that sets the node at a dotted path (numbers index lists) to ``value``."""

    def edit(doc: Dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return edit


MALFORMED = [
    ("compute", ["not", "a", "dict"], "compute", "must be an object, found a list"),
    ("network", "x", "network", "must be an object, found a string"),
    ("compute.platformFaultDomain", "one", "compute.platformFaultDomain", "'one'"),
    ("compute.platformUpdateDomain", "1.5", "compute.platformUpdateDomain", "'1.5'"),
    ("compute.platformFaultDomain", True, "compute.platformFaultDomain", "a boolean"),
    ("compute.platformFaultDomain", "--5", "compute.platformFaultDomain", "found '--5'"),
    ("compute.platformFaultDomain", "-", "compute.platformFaultDomain", "found '-'"),
    ("compute.platformFaultDomain", "\u0661", "compute.platformFaultDomain", "whole number"),
    ("compute.securityProfile.secureBootEnabled", 1,
     "compute.securityProfile.secureBootEnabled", "found a number"),
    ("compute.vmId", 12, "compute.vmId", "must be a string, found a number"),
    ("compute.zone", ["1"], "compute.zone", "found a list"),
    ("compute.osProfile", [], "compute.osProfile", "must be an object, found a list"),
    ("compute.securityProfile.secureBootEnabled", "yes",
     "compute.securityProfile.secureBootEnabled", "must be \"true\" or \"false\", found 'yes'"),
    ("compute.publicKeys", {"keyData": "k"}, "compute.publicKeys", "must be a list"),
    ("compute.publicKeys.0", "ssh-rsa AAA", "compute.publicKeys[0]", "must be an object"),
    ("compute.storageProfile.dataDisks.0.lun", "zero",
     "compute.storageProfile.dataDisks[0].lun",
     "must be a whole number of at most 19 digits, found 'zero'"),
    ("compute.tagsList", {"name": "a"}, "compute.tagsList", "found an object"),
    ("compute.tagsList.1", ["Environment", "Prod"], "compute.tagsList[1]", "found a list"),
    ("network.interface", {"macAddress": "x"}, "network.interface", "must be a list"),
    ("network.interface.0.macAddress", "00:0d:3a:36:dd", "network.interface[0].macAddress",
     "must be 12 hexadecimal digits, found '00:0d:3a:36:dd'"),
    ("network.interface.0.macAddress", "GG0D3A36DDED", "network.interface[0].macAddress",
     "'GG0D3A36DDED'"),
    ("network.interface.0.ipv4.ipAddress.0.privateIpAddress", "10.1.2.999",
     "network.interface[0].ipv4.ipAddress[0].privateIpAddress",
     "must be an IPv4 address, found '10.1.2.999'"),
    ("network.interface.0.ipv4.ipAddress.0.publicIpAddress", "fd00::1",
     "network.interface[0].ipv4.ipAddress[0].publicIpAddress", "must be an IPv4 address"),
    ("network.interface.0.ipv4.ipAddress", "10.1.2.5", "network.interface[0].ipv4.ipAddress",
     "must be a list, found a string"),
    ("network.interface.0.ipv4.subnet.0.prefix", "abc", "network.interface[0].ipv4.subnet[0]",
     "prefix 'abc'"),
    ("network.interface.0.ipv4.subnet.0.prefix", "33", "network.interface[0].ipv4.subnet[0]",
     "prefix '33'"),
    ("network.interface.0.ipv4.subnet.0.address", "fd00::",
     "network.interface[0].ipv4.subnet[0].address", "must be an IPv4 network"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field", "found"), MALFORMED)
def test_malformed_field_gives_an_error_naming_it(
    path: str, value: Any, field: str, found: str
) -> None:
    doc = doc_at(versions.NEWEST)
    replace(path, value)(doc)
    with pytest.raises(MalformedDocument) as caught:
        normalize(doc, versions.NEWEST)
    error = caught.value
    assert error.field == field
    assert str(error).startswith(f"malformed IMDS instance document: {field} ")
    assert found in str(error)


@pytest.mark.parametrize(
    ("document", "field"),
    [([], "(document)"), ({"network": {"interface": []}}, "compute"), ({"compute": {}}, "network")],
)
def test_document_without_compute_or_network_is_malformed(document: Any, field: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        normalize(document, versions.NEWEST)
    assert caught.value.field == field


def test_malformed_document_is_a_value_error_and_an_azimds_error_and_pickles() -> None:
    with pytest.raises(MalformedDocument) as caught:
        normalize(newest_with(zone=1), versions.NEWEST)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, MalformedResponse)
    assert isinstance(error, AzimdsError)
    again = pickle.loads(pickle.dumps(error))
    assert (again.field, str(again)) == (error.field, str(error))


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(MalformedDocument) as caught:
        normalize(newest_with(platformFaultDomain="x" * 500), versions.NEWEST)
    assert "x" * 41 not in str(caught.value)
    assert "..." in str(caught.value)


# --- customData and userData ---------------------------------------------------------------


def test_user_data_text_is_decoded_to_str() -> None:
    instance = normalize(newest_with(userData=b64(CLOUD_CONFIG.encode())), versions.NEWEST)
    assert instance.user_data is not None
    assert instance.user_data.reveal() == CLOUD_CONFIG
    assert instance.user_data.is_text
    assert instance.user_data.to_bytes() == CLOUD_CONFIG.encode()


def test_user_data_that_is_not_utf8_stays_bytes() -> None:
    payload = b"\x1f\x8b\x08\x00\xff\xfe binary"
    instance = normalize(newest_with(userData=b64(payload)), versions.NEWEST)
    assert instance.user_data is not None
    assert instance.user_data.reveal() == payload
    assert not instance.user_data.is_text


def test_custom_data_is_decoded_too_and_whitespace_in_base64_is_ignored() -> None:
    encoded = b64(b"echo hello")
    doc = newest_with(customData=f"{encoded[:4]}\n{encoded[4:]}\n")
    custom = normalize(doc, versions.NEWEST).custom_data
    assert custom is not None
    assert custom.reveal() == "echo hello"


SECRET_TEXT = "password=hunter2-do-not-leak"


def test_secrets_are_absent_from_repr_and_str() -> None:
    doc = newest_with(userData=b64(SECRET_TEXT.encode()), customData=b64(SECRET_TEXT.encode()))
    instance = normalize(doc, versions.NEWEST)
    assert instance.user_data is not None
    shown = [
        repr(instance),
        str(instance),
        repr(instance.user_data),
        str(instance.user_data),
        f"{instance.custom_data}",
        repr(instance._asdict()),
    ]
    for text in shown:
        assert "hunter2" not in text
        assert b64(SECRET_TEXT.encode()) not in text
    assert repr(instance.user_data) == "Secret(<hidden>)"


@pytest.mark.parametrize(
    ("key", "attribute"), [("userData", "user_data"), ("customData", "custom_data")]
)
def test_invalid_base64_is_left_out_with_a_warning_that_does_not_show_the_value(
    key: str, attribute: str
) -> None:
    instance = normalize(newest_with(**{key: "hunter2 is not base64!"}), versions.NEWEST)
    assert getattr(instance, attribute) is None
    (warning,) = instance.field_warnings
    assert warning.startswith(f"compute.{key} is not valid base64")
    assert "hunter2" not in warning
    # Every other fact is still read.
    assert instance.placement.zone == "1" and instance.tags == at(versions.NEWEST).tags
    assert instance.network == at(versions.NEWEST).network


def test_secret_of_wrong_type_is_left_out_naming_only_the_type() -> None:
    instance = normalize(newest_with(userData=["hunter2"]), versions.NEWEST)
    assert instance.user_data is None
    assert instance.field_warnings == (
        "compute.userData must be a base64 string, found a list; left out, every other fact "
        "is read",
    )


def test_a_document_that_reads_well_has_no_field_warnings() -> None:
    assert at(versions.NEWEST).field_warnings == ()


def test_warnings_are_the_field_warnings_then_the_tag_warnings_and_not_a_fact() -> None:
    tags = [{"name": "Environment", "value": "Prod"}, {"name": "environment", "value": "Dev"}]
    instance = normalize(
        newest_with(userData="hunter2 is not base64!", tagsList=tags), versions.NEWEST
    )
    (field_warning,) = instance.field_warnings
    (tag_warning,) = instance.tag_warnings
    assert instance.warnings == (field_warning, tag_warning)
    assert "compute.userData" in field_warning and "'environment'" in tag_warning
    assert "hunter2" not in " ".join(instance.warnings)
    assert "warnings" not in shapes.ansible_facts(instance)  # the shapes carry the two kinds
    assert at(versions.NEWEST).warnings == ()


def test_errors_elsewhere_never_carry_the_secrets() -> None:
    doc = newest_with(userData=b64(SECRET_TEXT.encode()), platformFaultDomain="bad")
    with pytest.raises(MalformedDocument) as caught:
        normalize(doc, versions.NEWEST)
    assert "hunter2" not in str(caught.value)


def test_secret_equality_compares_values() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret(b"a")
    assert Secret("a") != "a"


# --- the model itself ----------------------------------------------------------------------


def test_model_is_frozen() -> None:
    instance = at(versions.NEWEST)
    with pytest.raises(AttributeError):
        instance.vm_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        instance.placement.zone = "2"  # type: ignore[misc]


def test_both_kinds_of_disk_start_with_the_fields_every_disk_has() -> None:
    # A named tuple inherits no fields: OsDisk and DataDisk each list DISK_FIELDS first, in order.
    assert OsDisk._fields[: len(DISK_FIELDS)] == DISK_FIELDS
    assert DataDisk._fields[: len(DISK_FIELDS)] == DISK_FIELDS
    assert set(OsDisk._fields) & set(DataDisk._fields) == set(DISK_FIELDS)


def test_input_document_is_not_changed() -> None:
    doc = doc_at(versions.NEWEST)
    before = copy.deepcopy(doc)
    normalize(doc, versions.NEWEST)
    assert doc == before
