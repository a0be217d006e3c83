"""The error table: every documented (and IMDS-NOTES) error, over real HTTP."""

from __future__ import annotations

import http.client
from typing import Dict, Optional

import pytest

from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.emulator.server import Emulator
from emulator_support import Reply, address, request

INSTANCE = "/metadata/instance?api-version=2021-02-01"
MSG_NO_HEADER = "Bad request. Required metadata header not specified"
NEWEST_THREE = ["2025-04-07", "2024-07-17", "2024-03-15"]


@pytest.fixture
def emulator(imds_factory: EmulatorFactory) -> Emulator:
    return imds_factory(rate_limit=False)


def assert_json_error(reply: Reply, status: int) -> str:
    """Check ``reply`` is an IMDS JSON error of ``status``; return its message."""
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    payload = reply.json()
    assert isinstance(payload, dict)
    assert isinstance(payload["error"], str) and payload["error"]
    return str(payload["error"])


@pytest.mark.parametrize(
    "headers",
    [{}, {"Metadata": "false"}, {"Metadata": ""}, {"Metadata": "yes"}, {"Meta-data": "true"}],
    ids=["absent", "false", "empty", "yes", "misspelt"],
)
def test_missing_metadata_header_is_400(emulator: Emulator, headers: Dict[str, str]) -> None:
    reply = request(emulator.base_url, INSTANCE, headers=headers)
    assert assert_json_error(reply, 400) == MSG_NO_HEADER
    assert reply.json() == {"error": MSG_NO_HEADER}


@pytest.mark.parametrize("value", ["true", "True", "TRUE", " true "])
def test_metadata_header_value_is_case_insensitive(emulator: Emulator, value: str) -> None:
    reply = request(emulator.base_url, INSTANCE, headers={"Metadata": value})
    assert reply.status == 200
    assert set(reply.json()) == {"compute", "network"}


def test_metadata_header_name_is_case_insensitive(emulator: Emulator) -> None:
    assert request(emulator.base_url, INSTANCE, headers={"metadata": "true"}).status == 200


@pytest.mark.parametrize("value", ["10.0.0.1", "", "127.0.0.1, 10.1.2.3"])
def test_x_forwarded_for_is_rejected(emulator: Emulator, value: str) -> None:
    reply = request(
        emulator.base_url, INSTANCE, headers={"Metadata": "true", "X-Forwarded-For": value}
    )
    assert "X-Forwarded-For" in assert_json_error(reply, 400)


@pytest.mark.parametrize(
    "target",
    [
        "/metadata/instance",
        "/metadata/instance?api-version=",
        "/metadata/instance?api-version=2099-01-01",
        "/metadata/instance?api-version=2017-08-02",
        "/metadata/instance?api-version=latest",
        "/metadata/instance?apiversion=2017-08-01",
        "/metadata/instance/compute/vmId?format=text",
    ],
)
def test_missing_or_unknown_api_version_is_400_with_newest_versions(
    emulator: Emulator, target: str
) -> None:
    reply = request(emulator.base_url, target)
    message = assert_json_error(reply, 400)
    assert "api-version" in message
    assert reply.json()["newest-versions"] == NEWEST_THREE


def test_newest_versions_are_those_the_vm_offers(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"api_versions": {"newest": "2019-06-01"}}, rate_limit=False)
    expected = ["2019-06-01", "2019-04-30", "2019-03-11"]
    for target in ("/metadata/instance", "/metadata/instance?api-version=2019-06-04"):
        reply = request(emulator.base_url, target)
        assert_json_error(reply, 400)
        assert reply.json()["newest-versions"] == expected
    # An offered version works, a known but not offered one is refused.
    assert request(emulator.base_url, "/metadata/instance?api-version=2019-06-01").status == 200
    assert request(emulator.base_url, "/metadata/instance?api-version=2025-04-07").status == 400


def test_newest_versions_with_two_offered(imds_factory: EmulatorFactory) -> None:
    emulator = imds_factory({"api_versions": ["2018-10-01", "2017-08-01"]}, rate_limit=False)
    reply = request(emulator.base_url, "/metadata/instance")
    assert_json_error(reply, 400)
    assert reply.json()["newest-versions"] == ["2018-10-01", "2017-08-01"]


@pytest.mark.parametrize(
    "query",
    [
        "api-version=2021-02-01&api-version=2021-02-01",
        "api-version=2021-02-01&api-version=2017-08-01",
        "api-version=2021-02-01&format=text&format=text",
        "api-version=2021-02-01&format=json&format=text",
        "api-version=2021-02-01&extended=true&extended=true",
    ],
)
def test_duplicate_query_parameters_are_400(emulator: Emulator, query: str) -> None:
    reply = request(emulator.base_url, f"/metadata/instance/compute/vmId?{query}")
    assert "repeated" in assert_json_error(reply, 400)


@pytest.mark.parametrize("fmt", [None, "json"])
@pytest.mark.parametrize(
    "leaf",
    [
        "compute/vmId",
        "compute/tags",
        "compute/plan/name",
        "network/interface/0/macAddress",
        "network/interface/0/ipv4/ipAddress/0/privateIpAddress",
    ],
)
def test_leaf_without_format_text_is_400(emulator: Emulator, leaf: str, fmt: Optional[str]) -> None:
    target = f"/metadata/instance/{leaf}?api-version=2021-02-01"
    if fmt is not None:
        target += f"&format={fmt}"
    reply = request(emulator.base_url, target)
    assert "format=text" in assert_json_error(reply, 400)
    # The same leaf with format=text is served.
    reply = request(
        emulator.base_url, f"/metadata/instance/{leaf}?api-version=2021-02-01&format=text"
    )
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")


def test_unsupported_format_is_400(emulator: Emulator) -> None:
    reply = request(emulator.base_url, "/metadata/instance?api-version=2021-02-01&format=xml")
    assert "format" in assert_json_error(reply, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/metadata/instance/compute/nosuchfield",
        "/metadata/instance/Compute",  # queries are case-sensitive
        "/metadata/instance/compute/vmId/more",
        "/metadata/instance/network/interface/1",  # out of range
        "/metadata/instance/network/interface/99999999999999999999",
        "/metadata/instance/network/interface/-1",
        "/metadata/instance/network/interface/first",  # not numeric
        "/metadata/instance/network/interface/0x0",
        "/metadata/instance/network/interface/%200",
        "/metadata/instance/network/interface/0/ipv4/ipAddress/1",
        "/metadata/instance/compute/publicKeys/1",
        "/metadata/instance//compute",
        "/metadata/nosuchendpoint",
        "/metadata/versions/extra",
        "/metadata/loadbalancer/extra",
        "/nothere",
        "/",
    ],
)
def test_unknown_element_is_404(emulator: Emulator, path: str) -> None:
    for fmt in ("json", "text"):
        reply = request(emulator.base_url, f"{path}?api-version=2021-02-01&format={fmt}")
        assert_json_error(reply, 404)


def test_404_names_the_version(emulator: Emulator) -> None:
    # tagsList exists in the profile but not at 2019-06-01.
    reply = request(emulator.base_url, "/metadata/instance/compute/tagsList?api-version=2019-06-01")
    assert "2019-06-01" in assert_json_error(reply, 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
@pytest.mark.parametrize("path", ["/metadata/instance", "/metadata/instance/compute"])
def test_wrong_method_is_405_with_allow(emulator: Emulator, method: str, path: str) -> None:
    reply = request(emulator.base_url, f"{path}?api-version=2021-02-01", method=method, body=b"")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET"
    if method != "HEAD":  # a HEAD answer has no body
        assert_json_error(reply, 405)


def test_wrong_method_on_versions_is_405(emulator: Emulator) -> None:
    reply = request(emulator.base_url, "/metadata/versions", method="POST", body=b"{}")
    assert_json_error(reply, 405)
    assert reply.headers["allow"] == "GET"


def test_errors_do_not_stop_later_requests_on_the_same_connection(emulator: Emulator) -> None:
    host, port = address(emulator.base_url)
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        for target, headers, status in [
            (INSTANCE, {}, 400),
            ("/metadata/instance/nothing?api-version=2021-02-01", {"Metadata": "true"}, 404),
            (INSTANCE, {"Metadata": "true"}, 200),
        ]:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == status
    finally:
        connection.close()
