"""api-versions and field gating, driven by the one table (azimds.imds.versions), over real HTTP."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from azimds.emulator.profile import default_profile, profile_from_mapping
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from azimds.imds import versions
from emulator_support import request, scalars

# The 35 versions as IMDS-NOTES.md lists them, oldest first.
NOTES_VERSIONS = (
    """
2017-03-01, 2017-04-02, 2017-08-01, 2017-10-01, 2017-12-01, 2018-02-01, 2018-04-02, 2018-10-01,
2019-02-01, 2019-03-11, 2019-04-30, 2019-06-01, 2019-06-04, 2019-08-01, 2019-08-15, 2019-11-01,
2020-06-01, 2020-07-15, 2020-09-01, 2020-10-01, 2020-12-01, 2021-01-01, 2021-02-01, 2021-03-01,
2021-05-01, 2021-08-01, 2021-10-01, 2021-11-01, 2021-11-15, 2021-12-13, 2023-07-01, 2023-11-15,
2024-03-15, 2024-07-17, 2025-04-07""".replace("\n", " ")
    .replace(",", " ")
    .split()
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(default_profile(), rate_limit=False) as running:
        yield running


@pytest.fixture(scope="module")
def documents(emulator: Emulator) -> Dict[str, Any]:
    """The full instance document of every version, each fetched once over HTTP."""
    fetched: Dict[str, Any] = {}
    for version in NOTES_VERSIONS:
        reply = request(emulator.base_url, f"/metadata/instance?api-version={version}")
        assert reply.status == 200, (version, reply.body)
        fetched[version] = reply.json()
    return fetched


def parents_of(document: Any, path: str) -> Tuple[List[Dict[str, Any]], str]:
    """Return the mappings that would hold the field at ``path`` (``a.b[].c``), and its key.

    "[]" walks into every element of an array. A missing step yields no parents.
    """
    *steps, key = path.split(".")
    nodes: List[Any] = [document]
    for step in steps:
        name = step[:-2] if step.endswith("[]") else step
        nodes = [node[name] for node in nodes if isinstance(node, dict) and name in node]
        if step.endswith("[]"):
            nodes = [item for node in nodes if isinstance(node, list) for item in node]
    return [node for node in nodes if isinstance(node, dict)], key


def route_of(path: str) -> str:
    """Return the /metadata/instance route of a table path (arrays at index 0)."""
    return "/metadata/instance/" + path.replace("[]", "/0").replace(".", "/")


def previous(version: str) -> str:
    return versions.INSTANCE_VERSIONS[versions.INSTANCE_VERSIONS.index(version) - 1]


def test_the_table_knows_the_notes_versions() -> None:
    assert list(versions.INSTANCE_VERSIONS) == NOTES_VERSIONS
    assert len(NOTES_VERSIONS) == 35


def test_versions_lists_all_35_oldest_first(emulator: Emulator) -> None:
    reply = request(emulator.base_url, "/metadata/versions")
    assert reply.status == 200
    assert reply.json() == {"apiVersions": NOTES_VERSIONS}


def test_versions_lists_only_what_the_vm_offers(imds_factory: EmulatorFactory) -> None:
    limited = imds_factory({"api_versions": {"newest": "2019-06-01"}}, rate_limit=False)
    listed = request(limited.base_url, "/metadata/versions").json()["apiVersions"]
    assert listed == NOTES_VERSIONS[: NOTES_VERSIONS.index("2019-06-01") + 1]
    middle = imds_factory(
        {"api_versions": {"oldest": "2020-06-01", "newest": "2020-10-01"}}, rate_limit=False
    )
    listed = request(middle.base_url, "/metadata/versions").json()["apiVersions"]
    assert listed == ["2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01"]
    assert request(middle.base_url, "/metadata/instance?api-version=2020-12-01").status == 400


def test_every_version_answers_200(documents: Dict[str, Any]) -> None:
    assert list(documents) == NOTES_VERSIONS
    for version, document in documents.items():
        assert set(document) == {"compute", "network"}, version
        assert document["compute"]["vmId"] == default_profile().vm_id


def test_every_scalar_of_every_version_is_a_string(documents: Dict[str, Any]) -> None:
    for version, document in documents.items():
        for path, value in scalars(document):
            assert isinstance(value, str), (version, path, value)


def test_no_version_serves_a_field_newer_than_itself(documents: Dict[str, Any]) -> None:
    for version, document in documents.items():
        for path, _ in scalars(document):
            table_path = "".join(
                "[]" if part.isdigit() else f".{part}"
                for part in path.replace("[", ".").replace("]", "").split(".")
            ).lstrip(".")
            assert versions.offers(version, table_path), (version, path)


@pytest.mark.parametrize("path", sorted(versions.FIELD_INTRODUCED), ids=str)
def test_field_appears_exactly_at_its_version(
    emulator: Emulator, documents: Dict[str, Any], path: str
) -> None:
    introduced = versions.FIELD_INTRODUCED[path]
    before = previous(introduced)

    parents, key = parents_of(documents[introduced], path)
    assert parents, f"{path}: nothing holds it at {introduced}"
    assert all(key in parent for parent in parents), f"{path} missing at {introduced}"

    parents, key = parents_of(documents[before], path)
    parent_path = path.rpartition(".")[0]
    if versions.field_introduced(parent_path) <= before:
        assert parents, f"{parent_path} should exist at {before}"
    assert all(key not in parent for parent in parents), f"{path} present at {before}"

    # The same over the route of the field itself (format=text serves nodes and leaves).
    route = route_of(path)
    reply = request(emulator.base_url, f"{route}?api-version={introduced}&format=text")
    assert reply.status == 200, (route, introduced)
    reply = request(emulator.base_url, f"{route}?api-version={before}&format=text")
    assert reply.status == 404, (route, before)


def test_base_fields_are_served_by_the_oldest_version(documents: Dict[str, Any]) -> None:
    compute = documents["2017-03-01"]["compute"]
    assert set(compute) == {
        "location",
        "name",
        "offer",
        "osType",
        "platformFaultDomain",
        "platformUpdateDomain",
        "publisher",
        "sku",
        "version",
        "vmId",
        "vmSize",
    }
    interface = documents["2017-03-01"]["network"]["interface"][0]
    assert set(interface) == {"ipv4", "ipv6", "macAddress"}
    assert set(interface["ipv4"]["ipAddress"][0]) == {"privateIpAddress", "publicIpAddress"}
    assert set(interface["ipv4"]["subnet"][0]) == {"address", "prefix"}


def test_newest_version_serves_every_field_of_the_profile(documents: Dict[str, Any]) -> None:
    assert documents[versions.NEWEST] == default_profile().instance


@pytest.mark.parametrize("version", ["2021-08-01", "2021-02-01", "2019-06-01", "2017-08-01"])
def test_extended_true_is_accepted(emulator: Emulator, version: str) -> None:
    plain = request(emulator.base_url, f"/metadata/instance?api-version={version}")
    extended = request(emulator.base_url, f"/metadata/instance?api-version={version}&extended=true")
    assert extended.status == plain.status == 200
    assert extended.json() == plain.json()


@pytest.mark.parametrize(
    "node",
    [
        "",
        "compute",
        "network",
        "network/interface",
        "network/interface/0",
        "network/interface/0/ipv4",
        "network/interface/0/ipv4/ipAddress/0",
        "network/interface/0/ipv6/ipAddress",
        "compute/plan",
        "compute/publicKeys",
        "compute/storageProfile",
        "compute/storageProfile/dataDisks/0",
        "compute/tagsList",
    ],
)
def test_format_text_lists_the_children_of_a_node(emulator: Emulator, node: str) -> None:
    target = f"/metadata/instance/{node}".rstrip("/") + f"?api-version={versions.NEWEST}"
    as_json = request(emulator.base_url, target).json()
    reply = request(emulator.base_url, target + "&format=text")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")
    items = as_json.items() if isinstance(as_json, dict) else enumerate(as_json)
    expected = [f"{k}/" if isinstance(v, (dict, list)) else str(k) for k, v in items]
    assert (reply.text.split("\n") if reply.text else []) == expected


def test_format_text_listing_follows_the_version(emulator: Emulator) -> None:
    old = request(
        emulator.base_url, "/metadata/instance/compute?api-version=2017-04-02&format=text"
    )
    assert "tags" not in old.text.splitlines() and "vmId" in old.text.splitlines()
    new = request(
        emulator.base_url, "/metadata/instance/compute?api-version=2019-06-04&format=text"
    )
    assert {"tags", "tagsList/", "storageProfile/"} <= set(new.text.splitlines())


def test_user_data(imds_factory: EmulatorFactory) -> None:
    secret = "I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW25naW54XQo="  # base64 of a cloud-config
    emulator = imds_factory({"compute": {"userData": secret}}, rate_limit=False)
    route = "/metadata/instance/compute/userData"
    reply = request(emulator.base_url, f"{route}?api-version=2021-01-01&format=text")
    assert (reply.status, reply.text) == (200, secret)
    assert request(emulator.base_url, f"{route}?api-version=2021-01-01").status == 400
    assert request(emulator.base_url, f"{route}?api-version=2020-12-01&format=text").status == 404
    newest = request(emulator.base_url, f"{route}?api-version={versions.NEWEST}&format=text")
    assert newest.text == secret


def test_load_balancer(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory(rate_limit=False)
    reply = request(emulator.base_url, "/metadata/loadbalancer?api-version=2020-10-01")
    assert reply.status == 200
    payload = reply.json()
    assert set(payload) == {"loadbalancer"}
    assert payload["loadbalancer"] == default_profile().loadbalancer
    assert payload["loadbalancer"]["inboundRules"][0]["frontendPort"] == "80"
    # Before the endpoint existed, the version is not valid for it.
    early = request(emulator.base_url, "/metadata/loadbalancer?api-version=2020-09-01")
    assert early.status == 400
    assert early.json()["newest-versions"] == ["2025-04-07", "2024-07-17", "2024-03-15"]
    assert request(emulator.base_url, "/metadata/loadbalancer").status == 400


def test_load_balancer_absent(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"loadbalancer": None}, rate_limit=False)
    reply = request(emulator.base_url, "/metadata/loadbalancer?api-version=2021-02-01")
    assert reply.status == 404
    assert reply.json() == {
        "error": (
            "No load balancer metadata is found. Please check if your VM is using any non-basic "
            "SKU load balancer and retry later."
        )
    }


def test_profile_limited_to_old_versions_serves_old_documents(
    imds_factory: EmulatorFactory,
) -> None:
    profile = profile_from_mapping({"api_versions": ["2017-04-02", "2017-08-01"]})
    emulator = imds_factory(profile, rate_limit=False)
    reply = request(emulator.base_url, "/metadata/instance?api-version=2017-08-01")
    assert reply.status == 200
    assert "tags" in reply.json()["compute"] and "zone" not in reply.json()["compute"]
    reply = request(emulator.base_url, "/metadata/instance?api-version=2017-12-01")
    assert reply.status == 400
    assert reply.json()["newest-versions"] == ["2017-08-01", "2017-04-02"]


def test_documents_are_compact_json(emulator: Emulator) -> None:
    reply = request(emulator.base_url, "/metadata/instance?api-version=2021-02-01")
    assert reply.body == json.dumps(reply.json(), separators=(",", ":")).encode()
