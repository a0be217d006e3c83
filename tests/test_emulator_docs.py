"""Every request of azure-imds-2019.md, sent with curl as the document sends it.

Only the documented host (169.254.169.254) is replaced by the emulator's loopback base URL.
The VMs are the document's own: their profiles are built from the example responses, so each
answer can be compared with what the document shows. The attested-data examples belong to the
attestation tests; the Windows (PowerShell) examples send the same request as the 2018-10-01
full-document example tested here.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import shutil
from typing import Any, Dict

import pytest

from azimds.emulator.profile import profile_from_mapping
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from emulator_support import run_documented, run_documented_pipeline, scalars

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

# The two full documents of the page ("Retrieving all metadata for an instance" and
# "Retrieving metadata in Windows Virtual Machine"), verbatim.
DOC_JUBILEE_2018_10_01 = json.loads("""
{
  "compute": {
    "azEnvironment": "AzurePublicCloud",
    "location": "westus",
    "name": "jubilee",
    "offer": "Windows-10",
    "osType": "Windows",
    "placementGroupId": "",
    "plan": {
        "name": "",
        "product": "",
        "publisher": ""
    },
    "platformFaultDomain": "1",
    "platformUpdateDomain": "1",
    "provider": "Microsoft.Compute",
    "publicKeys": [],
    "publisher": "MicrosoftWindowsDesktop",
    "resourceGroupName": "myrg",
    "sku": "rs4-pro",
    "subscriptionId": "xxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxx",
    "tags": "Department:IT;Environment:Prod;Role:WorkerRole",
    "version": "17134.345.59",
    "vmId": "13f56399-bd52-4150-9748-7190aae1ff21",
    "vmScaleSetName": "",
    "vmSize": "Standard_D1",
    "zone": "1"
  },
  "network": {
    "interface": [
      {
        "ipv4": {
          "ipAddress": [
            {
              "privateIpAddress": "10.1.2.5",
              "publicIpAddress": "X.X.X.X"
            }
          ],
          "subnet": [
            {
              "address": "10.1.2.0",
              "prefix": "24"
            }
          ]
        },
        "ipv6": {
          "ipAddress": []
        },
        "macAddress": "000D3A36DDED"
      }
    ]
  }
}
""")

DOC_SQLTEST_2018_10_01 = json.loads("""
{
  "compute": {
    "azEnvironment": "AzurePublicCloud",
    "location": "westus",
    "name": "SQLTest",
    "offer": "SQL2016SP1-WS2016",
    "osType": "Windows",
    "placementGroupId": "",
    "plan": {
        "name": "",
        "product": "",
        "publisher": ""
    },
    "platformFaultDomain": "0",
    "platformUpdateDomain": "0",
    "provider": "Microsoft.Compute",
    "publicKeys": [],
    "publisher": "MicrosoftSQLServer",
    "resourceGroupName": "myrg",
    "sku": "Enterprise",
    "subscriptionId": "xxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxx",
    "tags": "Department:IT;Environment:Test;Role:WebRole",
    "version": "13.0.400110",
    "vmId": "453945c8-3923-4366-b2d3-ea4c80e9b70e",
    "vmScaleSetName": "",
    "vmSize": "Standard_DS2",
    "zone": ""
  },
  "network": {
    "interface": [
      {
        "ipv4": {
          "ipAddress": [
            {
              "privateIpAddress": "10.0.1.4",
              "publicIpAddress": "X.X.X.X"
            }
          ],
          "subnet": [
            {
              "address": "10.0.1.0",
              "prefix": "24"
            }
          ]
        },
        "ipv6": {
          "ipAddress": []
        },
        "macAddress": "002248020E1E"
      }
    ]
  }
}
""")

# "Retrieving network information", verbatim but for the redacted public address.
DOC_NETWORK_2017_08_01 = json.loads("""
{
  "interface": [
    {
      "ipv4": {
        "ipAddress": [
          {
            "privateIpAddress": "10.1.0.4",
            "publicIpAddress": "X.X.X.X"
          }
        ],
        "subnet": [
          {
            "address": "10.1.0.0",
            "prefix": "24"
          }
        ]
      },
      "ipv6": {
        "ipAddress": []
      },
      "macAddress": "000D3AF806EC"
    }
  ]
}
""")
PUBLIC_IP = "52.168.10.20"  # stands for the document's redacted "X.X.X.X"

# "Getting more information about the VM during support case" (compute, 2017-08-01), verbatim.
DOC_CANARY_COMPUTE = json.loads("""
{
  "compute": {
    "location": "CentralUS",
    "name": "IMDSCanary",
    "offer": "RHEL",
    "osType": "Linux",
    "platformFaultDomain": "0",
    "platformUpdateDomain": "0",
    "publisher": "RedHat",
    "sku": "7.2",
    "version": "7.2.20161026",
    "vmId": "5c08b38e-4d57-4c23-ac45-aca61037f084",
    "vmSize": "Standard_DS2"
  }
}
""")["compute"]

# The versions the page calls "current supported versions".
DOC_VERSIONS = ["2017-04-02", "2017-08-01", "2017-12-01", "2018-02-01", "2018-04-02", "2018-10-01"]


def profile_of(document: Dict[str, Any]) -> Dict[str, Any]:
    """Return a profile mapping for the VM of a documented 2018-10-01 full document.

    Tags are given as a mapping and numbers as numbers: the emulator must derive the tags
    string and serve every scalar as a string, as the document shows.
    """
    compute = copy.deepcopy(document["compute"])
    compute["tags"] = dict(pair.split(":", 1) for pair in compute["tags"].split(";"))
    compute["platformFaultDomain"] = int(compute["platformFaultDomain"])
    compute["platformUpdateDomain"] = int(compute["platformUpdateDomain"])
    return {"compute": compute, "network": copy.deepcopy(document["network"])}


def canary_profile() -> Dict[str, Any]:
    """The document's IMDSCanary VM, with the page's tags, custom data and network example."""
    compute: Dict[str, Any] = dict(DOC_CANARY_COMPUTE)
    compute["sku"] = 7.2  # a YAML float in a profile file; IMDS serves "7.2"
    compute["platformFaultDomain"] = 0
    compute["tags"] = {"Department": "IT", "Environment": "Test", "Role": "WebRole"}
    compute["customData"] = base64.b64encode(b"My custom data.").decode()
    network = copy.deepcopy(DOC_NETWORK_2017_08_01)
    network["interface"][0]["ipv4"]["ipAddress"][0]["publicIpAddress"] = PUBLIC_IP
    return {"compute": compute, "network": network}


@pytest.fixture
def canary(imds_factory: EmulatorFactory) -> str:
    return imds_factory(profile_from_mapping(canary_profile()), rate_limit=False).base_url


def test_request_without_api_version_gets_400_with_the_newest_versions(
    imds_factory: EmulatorFactory,
) -> None:
    command = 'curl -H Metadata:true "http://169.254.169.254/metadata/instance"'
    # A VM of the document's time, offering the versions the page lists.
    doc_era = imds_factory({"api_versions": DOC_VERSIONS}, rate_limit=False)
    status, body = run_documented(command, doc_era.base_url)
    assert status == 400
    payload = json.loads(body)
    assert set(payload) == {"error", "newest-versions"}
    assert payload["error"].startswith("Bad request. api-version ")
    assert payload["error"].endswith("For more information refer to aka.ms/azureimds")
    assert payload["newest-versions"] == ["2018-10-01", "2018-04-02", "2018-02-01"]
    # Today's VM: the three newest of today's versions (IMDS-NOTES.md).
    status, body = run_documented(command, imds_factory(rate_limit=False).base_url)
    assert status == 400
    assert json.loads(body)["newest-versions"] == ["2025-04-07", "2024-07-17", "2024-03-15"]


def test_all_data_categories_at_2017_08_01(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance?api-version=2017-08-01"'
    )
    status, body = run_documented(command, canary)
    assert status == 200
    document = json.loads(body)
    assert set(document) == {"compute", "network"}
    # Exactly the 2017-04-02 categories of the page's table plus those of 2017-08-01.
    assert set(document["compute"]) == set(DOC_CANARY_COMPUTE) | {
        "placementGroupId",
        "resourceGroupName",
        "subscriptionId",
        "tags",
    }
    assert document["network"] == canary_profile()["network"]
    assert all(isinstance(value, str) for _, value in scalars(document))


def test_instance_in_text_format(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance'
        '?api-version=2017-08-01&format=text"'
    )
    status, body = run_documented(command, canary)
    assert status == 200
    # The text form of a node is not documented; the emulator lists the children.
    assert body.decode().splitlines() == ["compute/", "network/"]


def test_network_information(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/network'
        '?api-version=2017-08-01"'
    )
    status, body = run_documented(command, canary)
    assert status == 200
    served = json.loads(body)
    served["interface"][0]["ipv4"]["ipAddress"][0]["publicIpAddress"] = "X.X.X.X"
    assert served == DOC_NETWORK_2017_08_01


def test_public_ip_address(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/network/interface/0/'
        'ipv4/ipAddress/0/publicIpAddress?api-version=2017-08-01&format=text"'
    )
    status, body = run_documented(command, canary)
    assert status == 200
    assert body.decode() == PUBLIC_IP
    assert ipaddress.ip_address(body.decode()).version == 4


@pytest.mark.parametrize(
    "documented", [DOC_JUBILEE_2018_10_01, DOC_SQLTEST_2018_10_01], ids=["jubilee", "SQLTest"]
)
def test_all_metadata_for_an_instance_at_2018_10_01(
    imds_factory: EmulatorFactory, documented: Dict[str, Any]
) -> None:
    emulator = imds_factory(profile_from_mapping(profile_of(documented)), rate_limit=False)
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance?api-version=2018-10-01"'
    )
    status, body = run_documented(command, emulator.base_url)
    assert status == 200
    # Exactly the documented document: no field of a later version, every scalar a string.
    assert json.loads(body) == documented


def test_vm_id_for_tracking(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/compute/vmId'
        '?api-version=2017-08-01&format=text"'
    )
    assert run_documented(command, canary) == (200, b"5c08b38e-4d57-4c23-ac45-aca61037f084")


def test_platform_fault_domain_for_placement(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/compute/'
        'platformFaultDomain?api-version=2017-08-01&format=text"'
    )
    assert run_documented(command, canary) == (200, b"0")


def test_compute_for_a_support_case(canary: str) -> None:
    command = 'curl -H Metadata:true "http://169.254.169.254/metadata/instance/compute?api-version=2017-08-01"'
    status, body = run_documented(command, canary)
    assert status == 200
    node = json.loads(body)
    # The page shows this answer wrapped in {"compute": ...}. That contradicts the network
    # example of the same page (a filtered node comes back unwrapped) and the real service,
    # so the emulator returns the node itself: the documented keys are at its top level.
    assert "compute" not in node
    for key, value in DOC_CANARY_COMPUTE.items():
        assert isinstance(node[key], str), key
        assert node[key] == value, key


def test_azure_environment(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/compute/azEnvironment'
        '?api-version=2018-10-01&format=text"'
    )
    assert run_documented(command, canary) == (200, b"AzurePublicCloud")


def test_tags(canary: str) -> None:
    command = (
        'curl -H Metadata:true "http://169.254.169.254/metadata/instance/compute/tags'
        '?api-version=2018-10-01&format=text"'
    )
    assert run_documented(command, canary) == (200, b"Department:IT;Environment:Test;Role:WebRole")


def test_custom_data_decodes_to_the_documented_text(canary: str) -> None:
    command = (
        'curl -H "Metadata:true" "http://169.254.169.254/metadata/instance/compute/customData'
        '?api-version=2019-02-01&&format=text" | base64 --decode'
    )
    assert run_documented_pipeline(command, canary) == b"My custom data."


def test_custom_data_is_served_base64_as_text(imds_factory: EmulatorFactory) -> None:
    emulator: Emulator = imds_factory(profile_from_mapping(canary_profile()), rate_limit=False)
    command = (
        'curl -H "Metadata:true" "http://169.254.169.254/metadata/instance/compute/customData'
        '?api-version=2019-02-01&&format=text"'
    )
    status, body = run_documented(command, emulator.base_url)
    assert status == 200
    assert body == base64.b64encode(b"My custom data.")
    # One version earlier the field does not exist yet.
    status, _ = run_documented(command.replace("2019-02-01", "2018-10-01"), emulator.base_url)
    assert status == 404
