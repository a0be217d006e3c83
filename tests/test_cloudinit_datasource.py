"""The AzureImds datasource in Debian's real cloud-init (12's 22.4, 13's 25.1, and sid's newest).

cloud-init's own loader finds the datasource from a configuration with
``datasource_pkg_list: [azimds.cloudinit]`` (the snippet azimds ships) and its own search,
``sources.find_source``, asks it for data, as ``cloud-init init`` does in its network stage.
The emulator answers at 169.254.169.254 inside a private network namespace (cloudinit_probe.py);
every scenario of a cloud-init version runs in one process, each with its own emulator.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict

import pytest
import yaml

from azimds.cloudinit import snippet
from azimds.emulator import Emulator, profile_from_mapping
from azimds.facts import model, shapes
from azimds.imds.client import Client
from azimds.imds.identity import byte_swapped
from azimds.imds.retry import Unpaced
from cloud_init_packages import Unpacked
from cloudinit_support import (
    IMDS,
    OFF_AZURE,
    ON_AZURE,
    RELEASE_IDS,
    RELEASES,
    log_lines,
    probe,
    require,
)

pytestmark = [pytest.mark.netns, pytest.mark.timeout(600)]

VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"
OTHER_VM = "0f2c6d1e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
SECRET = "azimds-user-data-marker-5521"
USER_DATA = f"#cloud-config\n# {SECRET}\n"
CUSTOM_DATA = "#cloud-config\n# from customData\n"
NIC = {
    "ipv4": {
        "ipAddress": [
            {"privateIpAddress": "10.1.2.5", "publicIpAddress": "20.42.18.7"},
            {"privateIpAddress": "10.1.2.6", "publicIpAddress": ""},
        ],
        "subnet": [{"address": "10.1.2.0", "prefix": "24"}],
    },
    "ipv6": {"ipAddress": []},
    "macAddress": "000D3A36DDED",
}
SECOND_NIC = {
    "ipv4": {
        "ipAddress": [{"privateIpAddress": "10.1.3.4", "publicIpAddress": ""}],
        "subnet": [{"address": "10.1.3.0", "prefix": "26"}],
    },
    "ipv6": {"ipAddress": []},
    "macAddress": "000D3A36DDEE",
}
# Values that tell zone, fault and update domain apart.
PROFILE: Dict[str, Any] = {
    "compute": {
        "zone": "3",
        "platformFaultDomain": 0,
        "platformUpdateDomain": 4,
        "vmScaleSetName": "web-vmss",
        "osProfile": {
            "adminUsername": "azureuser",
            "computerName": "web-03",
            "disablePasswordAuthentication": True,
        },
        "userData": base64.b64encode(USER_DATA.encode()).decode(),
    },
    "network": {"interface": [NIC, SECOND_NIC]},
}
SNIPPET = snippet()
UNDECODABLE: Dict[str, Any] = {"compute": {**PROFILE["compute"], "userData": f"{SECRET}!!"}}
AMBIGUOUS_TAGS: Dict[str, Any] = {
    "compute": {
        "tagsList": [
            {"name": "Environment", "value": "Prod"},
            {"name": "environment", "value": "Dev"},
        ]
    }
}


def config(datasource_list: Any = None, **settings: Any) -> str:
    """Return the shipped snippet, with ``settings`` under ``datasource: AzureImds:``."""
    cfg = yaml.safe_load(SNIPPET)
    cfg["datasource"]["AzureImds"].update(settings)
    if datasource_list is not None:
        cfg["datasource_list"] = datasource_list
    return str(yaml.safe_dump(cfg))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SCENARIOS: Dict[str, Dict[str, Any]] = {
    # The VM's DMI system UUID is the vmId byte-swapped and in upper case, as on older VMs;
    # on a later boot the disk is attached to another VM.
    "azure": {
        "cloud_cfg": SNIPPET,
        "dmi": {**ON_AZURE, "product_uuid": byte_swapped(VM_ID).upper()},
        "dmi_after": {**ON_AZURE, "product_uuid": OTHER_VM},
        "profile": PROFILE,
    },
    "custom_data": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "profile": {"compute": {"customData": b64(CUSTOM_DATA), "userData": b64(USER_DATA)}},
    },
    "no_user_data": {"cloud_cfg": SNIPPET, "dmi": ON_AZURE},
    "off_azure": {"cloud_cfg": SNIPPET, "dmi": OFF_AZURE},
    "no_dmi": {"cloud_cfg": SNIPPET, "dmi": None},
    # A single datasource: cloud-init 23.2+ skips ds_detect then; detection must still hold.
    "alone_off_azure": {
        "cloud_cfg": config(["AzureImds"]),
        "dmi": OFF_AZURE,
    },
    "disabled": {"cloud_cfg": SNIPPET, "dmi": ON_AZURE, "environ": {"AZIMDS_DISABLE": "1"}},
    "disable_garbled": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "environ": {"AZIMDS_DISABLE": "perhaps"},
    },
    "endpoint_garbled": {"cloud_cfg": config(endpoint="ftp://imds.example"), "dmi": OFF_AZURE},
    "endpoint": {
        "cloud_cfg": config(endpoint="EMULATOR"),
        "dmi": OFF_AZURE,
        "emulator_host": "127.0.0.1",
    },
    "maintenance": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "faults": [{"kind": "status", "status": 410, "seconds": 2}],
    },
    "deadline": {
        "cloud_cfg": config(timeout=1.5),
        "dmi": ON_AZURE,
        "faults": [{"kind": "status", "status": 410}],
    },
    "malformed_body": {"cloud_cfg": SNIPPET, "dmi": ON_AZURE, "faults": [{"kind": "malformed"}]},
    "malformed_document": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "profile": {"compute": {"platformFaultDomain": "north"}},
    },
    "undecodable_user_data": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "profile": UNDECODABLE,
    },
    "ambiguous_tags": {"cloud_cfg": SNIPPET, "dmi": ON_AZURE, "profile": AMBIGUOUS_TAGS},
    "bad_settings": {
        "cloud_cfg": config(colour="blue", retries=3, timeout="soon", apply_network_config="maybe"),
        "dmi": ON_AZURE,
    },
    "network": {
        "cloud_cfg": config(apply_network_config=True),
        "dmi": ON_AZURE,
        "profile": PROFILE,
    },
    "old_imds": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "profile": {"api_versions": {"newest": "2019-06-04"}},
    },
    "previous_id_swapped": {
        "cloud_cfg": SNIPPET,
        "dmi": {**ON_AZURE, "product_uuid": VM_ID},
        "previous_instance_id": byte_swapped(VM_ID).upper(),
    },
    "previous_id_other_vm": {
        "cloud_cfg": SNIPPET,
        "dmi": ON_AZURE,
        "previous_instance_id": OTHER_VM,
    },
}


@pytest.fixture(scope="module", params=RELEASES, ids=RELEASE_IDS)
def reports(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Return every scenario's report for one cloud-init version."""
    require()
    release: Unpacked = request.param
    work = tmp_path_factory.mktemp(f"cloudinit-{release.release}")
    return probe(release, SCENARIOS, work)


def expected_metadata(profile: Dict[str, Any]) -> Dict[str, Any]:
    """Return what azimds's cloud-init shape makes of ``profile``, fetched here on loopback."""
    with Emulator(profile_from_mapping(profile), rate_limit=False) as emulator:
        document = Client(emulator.base_url, pacer=Unpaced()).instance()
    metadata = shapes.cloud_init_metadata(model.normalize(document.data, document.api_version))
    parsed: Dict[str, Any] = json.loads(json.dumps(metadata))
    return parsed


def test_every_scenario_ran_on_the_release_it_names(reports: Any) -> None:
    versions = {report["cloud_init"] for report in reports.values()}
    assert len(versions) == 1
    assert set(reports) == set(SCENARIOS)


# --- found by cloud-init's own loader ------------------------------------------------------


def test_the_loader_finds_the_datasource_through_datasource_pkg_list(reports: Any) -> None:
    report = reports["azure"]
    assert report["listed"] == ["DataSourceAzureImds", "DataSourceNone"]
    assert report["listed_local"] == []  # network stage only: it needs IMDS
    assert report["found"] == "DataSourceAzureImds"
    assert report["module"] == "azimds.cloudinit.DataSourceAzureImds"


def test_one_request_to_the_real_address_with_the_metadata_header(reports: Any) -> None:
    requests = reports["azure"]["requests"]
    assert [(r["host"], r["path"], r["status"]) for r in requests] == [
        (IMDS, "/metadata/instance", 200)
    ]
    headers = {k.lower(): v for k, v in requests[0]["headers"].items()}
    assert headers["metadata"] == "true"
    assert "x-forwarded-for" not in headers


# --- metadata in cloud-init's keys ---------------------------------------------------------


def test_metadata_is_azimds_cloud_init_shape_unchanged(reports: Any) -> None:
    assert reports["azure"]["metadata"] == expected_metadata(PROFILE)


def test_standard_keys_carry_the_vm_id_host_name_zone_region_and_keys(reports: Any) -> None:
    report = reports["azure"]
    assert report["instance_id"] == VM_ID
    assert report["hostname"] == "web-03"  # osProfile.computerName, not the VM name
    assert report["availability_zone"] == "3"  # the zone, not fault domain 0
    assert report["region"] == "westus"
    assert report["public_keys"] == [expected_metadata(PROFILE)["public-keys"][0]]
    assert report["platform"] == "azure"
    assert report["cloud_name"] == "azure"
    assert report["subplatform"] == "metadata (http://169.254.169.254:80)"


def test_instance_data_offers_the_azure_extras_under_ds_meta_data(reports: Any) -> None:
    data = reports["azure"]["instance_data"]
    meta = data["ds"]["meta_data"]
    assert meta["fault-domain"] == 0
    assert meta["update-domain"] == 4
    assert meta["scale-set-name"] == "web-vmss"
    assert meta["vm-size"] == "Standard_D2s_v5"
    assert meta["tags"] == {"Department": "IT", "Environment": "Prod", "Role": "WorkerRole"}
    v1 = data["v1"]
    assert (v1["availability_zone"], v1["region"], v1["cloud_name"]) == ("3", "westus", "azure")
    assert (v1["instance_id"], v1["local_hostname"]) == (VM_ID, "web-03")


# --- user data -----------------------------------------------------------------------------


def test_user_data_is_the_decoded_user_data(reports: Any) -> None:
    assert reports["azure"]["userdata_text"] == USER_DATA


def test_user_data_never_reaches_logs_or_instance_data(reports: Any) -> None:
    report = reports["azure"]
    assert report["instance_data_sensitive_bytes"] > 0
    assert SECRET not in json.dumps(report["instance_data"])
    assert not [line for line in report["log"] if SECRET in line]


def test_custom_data_when_served_is_the_user_data(reports: Any) -> None:
    assert reports["custom_data"]["userdata_text"] == CUSTOM_DATA


def test_no_user_data_gives_none(reports: Any) -> None:
    report = reports["no_user_data"]
    assert report["found"] == "DataSourceAzureImds"
    assert report["userdata_text"] is None


# --- off Azure: not chosen, nothing sent ---------------------------------------------------


@pytest.mark.parametrize("scenario", ["off_azure", "no_dmi"])
def test_off_azure_the_datasource_is_not_chosen_and_nothing_is_sent(
    reports: Any, scenario: str
) -> None:
    report = reports[scenario]
    assert report["found"] == "DataSourceNone"
    assert report["requests"] == []
    assert log_lines(report, "AzureImds: not on Azure")
    assert not log_lines(report, "Traceback")


def test_a_single_datasource_list_off_azure_still_sends_nothing(reports: Any) -> None:
    report = reports["alone_off_azure"]
    assert report["found"] is None
    assert "DataSourceAzureImds" in report["not_found"]
    assert report["requests"] == []
    assert log_lines(report, "AzureImds: not on Azure")


def test_azimds_disable_keeps_it_silent_even_on_azure(reports: Any) -> None:
    report = reports["disabled"]
    assert report["found"] == "DataSourceNone"
    assert report["requests"] == []
    assert log_lines(report, "AzureImds: not on Azure: AZIMDS_DISABLE=1 is set")


@pytest.mark.parametrize(
    ("scenario", "says"),
    [
        ("disable_garbled", "AZIMDS_DISABLE='perhaps' is neither true"),
        ("endpoint_garbled", "ftp://imds.example"),
    ],
)
def test_a_garbled_setting_is_one_warning_and_nothing_sent(
    reports: Any, scenario: str, says: str
) -> None:
    report = reports[scenario]
    assert report["found"] == "DataSourceNone"
    assert report["requests"] == []
    [line] = log_lines(report, "WARNING azimds")
    assert "AzureImds: datasource not used: " in line and says in line
    assert not log_lines(report, "Traceback")


def test_a_configured_endpoint_is_used_without_detection(reports: Any) -> None:
    report = reports["endpoint"]
    assert report["found"] == "DataSourceAzureImds"
    assert {r["host"].split(":")[0] for r in report["requests"]} == {"127.0.0.1"}
    assert report["subplatform"].startswith("metadata (http://127.0.0.1:")


# --- IMDS in trouble -----------------------------------------------------------------------


def test_maintenance_is_ridden_out_within_the_deadline(reports: Any) -> None:
    report = reports["maintenance"]
    statuses = [r["status"] for r in report["requests"]]
    assert statuses[0] == 410 and statuses[-1] == 200
    assert set(statuses[:-1]) == {410}
    assert report["found"] == "DataSourceAzureImds"


def test_the_timeout_setting_is_the_deadline(reports: Any) -> None:
    report = reports["deadline"]
    assert report["found"] == "DataSourceNone"
    assert {r["status"] for r in report["requests"]} == {410}
    [line] = log_lines(report, "WARNING azimds")
    assert "IMDS unavailable" in line and "deadline" in line and "HTTP 410" in line


@pytest.mark.parametrize(
    ("scenario", "says"),
    [
        ("malformed_body", "the body is not valid JSON"),
        ("malformed_document", "compute.platformFaultDomain"),
    ],
)
def test_malformed_answers_give_one_clear_line_and_no_crash(
    reports: Any, scenario: str, says: str
) -> None:
    report = reports[scenario]
    assert report["found"] == "DataSourceNone"  # cloud-init went on without it
    [line] = log_lines(report, "WARNING azimds")
    assert "AzureImds: no metadata from IMDS, datasource not used" in line
    assert says in line
    assert not log_lines(report, "Traceback")
    assert "\n" not in line


def test_undecodable_user_data_keeps_every_fact_and_is_one_warning(reports: Any) -> None:
    report = reports["undecodable_user_data"]
    assert report["found"] == "DataSourceAzureImds"
    assert report["metadata"] == expected_metadata(UNDECODABLE)  # every fact, as with good data
    assert (report["instance_id"], report["availability_zone"]) == (VM_ID, "3")
    assert report["instance_data"]["ds"]["meta_data"]["fault-domain"] == 0
    assert report["userdata_text"] is None  # no user-data at all, not the undecoded text
    [line] = log_lines(report, "WARNING azimds")
    assert "AzureImds: compute.userData is not valid base64 (value not shown)" in line
    [used] = log_lines(report, "AzureImds: metadata from")
    assert "user-data: none" in used
    assert not log_lines(report, "Traceback")
    # Nowhere: no log line, no metadata, neither instance-data file.
    assert SECRET not in json.dumps(report)


def test_ambiguous_tags_are_one_warning_each_and_the_tags_are_served(reports: Any) -> None:
    report = reports["ambiguous_tags"]
    assert report["found"] == "DataSourceAzureImds"
    assert report["metadata"]["tags"] == {"Environment": "Prod", "environment": "Dev"}
    [line] = log_lines(report, "WARNING azimds")
    assert "AzureImds: tagsList: tags 'Environment' and 'environment' differ only by case" in line


def test_bad_settings_are_reported_and_defaults_used(reports: Any) -> None:
    report = reports["bad_settings"]
    assert report["found"] == "DataSourceAzureImds"
    unknown, timeout, flag = log_lines(report, "WARNING azimds")  # each said once
    assert "unknown key(s) colour, retries ignored" in unknown
    assert "timeout must be a positive number of seconds, found str 'soon'" in timeout
    assert "apply_network_config must be true or false" in flag
    assert report["network_config"] is None


# --- api-version negotiation ---------------------------------------------------------------


def test_an_older_imds_is_met_at_its_newest_version(reports: Any) -> None:
    report = reports["old_imds"]
    assert report["found"] == "DataSourceAzureImds"
    assert [r["status"] for r in report["requests"]] == [400, 200]
    assert report["requests"][1]["query"]["api-version"] == ["2019-06-04"]
    assert report["metadata"]["api-version"] == "2019-06-04"
    assert report["metadata"]["tags"] == {
        "Department": "IT",
        "Environment": "Prod",
        "Role": "WorkerRole",
    }


# --- network configuration ------------------------------------------------------------------


def test_no_network_configuration_by_default(reports: Any) -> None:
    assert reports["azure"]["network_config"] is None


def test_network_configuration_when_asked_for(reports: Any) -> None:
    config = reports["network"]["network_config"]
    assert config == {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": "00:0d:3a:36:dd:ed", "driver": "hv_netvsc"},
                "set-name": "eth0",
                "dhcp4": True,
                "dhcp6": False,
                "dhcp4-overrides": {"route-metric": 100},
                "addresses": ["10.1.2.6/24"],
            },
            "eth1": {
                "match": {"macaddress": "00:0d:3a:36:dd:ee", "driver": "hv_netvsc"},
                "set-name": "eth1",
                "dhcp4": True,
                "dhcp6": False,
                "dhcp4-overrides": {"route-metric": 200},
            },
        },
    }


# --- instance identity -----------------------------------------------------------------------


def test_check_instance_id_accepts_the_byte_swapped_system_uuid(reports: Any) -> None:
    assert reports["azure"]["check_instance_id"] is True


def test_check_instance_id_after_pickling_refuses_another_vm(reports: Any) -> None:
    assert reports["azure"]["check_instance_id_after"] is False


def test_a_byte_swapped_previous_instance_id_is_kept(reports: Any) -> None:
    report = reports["previous_id_swapped"]
    assert report["instance_id"] == byte_swapped(VM_ID).upper()
    assert report["check_instance_id"] is True  # still this VM for the next boot's check


def test_another_vms_previous_instance_id_is_replaced_by_the_vm_id(reports: Any) -> None:
    assert reports["previous_id_other_vm"]["instance_id"] == VM_ID
