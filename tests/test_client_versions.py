"""api-version negotiation: fallback, memory per endpoint, pinning and needs."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any, Iterator, List, Sequence
from urllib.parse import parse_qs, urlsplit

import pytest

from azimds.emulator import Emulator, profile_from_mapping
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.imds import versions
from azimds.imds.client import PROCESS_VERSIONS, Client, VersionMemo
from azimds.imds.errors import VersionNotAvailable
from azimds.imds.retry import Unpaced

OLDEST, NEWEST = versions.OLDEST, versions.NEWEST


def client_for(url: str, **options: Any) -> Client:
    options.setdefault("pacer", Unpaced())
    options.setdefault("versions_memo", VersionMemo())
    return Client(url, **options)


def asked(emu: Any) -> List[str]:
    """Return the api-version of each request the emulator received ("" when none)."""
    return [record.query.get("api-version", [""])[0] for record in emu.requests]


@pytest.mark.parametrize("offered_newest", versions.INSTANCE_VERSIONS)
def test_falls_back_to_the_newest_version_the_emulator_offers(
    imds_factory: EmulatorFactory, offered_newest: str
) -> None:
    emu = imds_factory({"api_versions": {"newest": offered_newest}, "rate_limit": False})
    document = client_for(emu.base_url).instance()
    assert document.api_version == offered_newest
    assert document.data == versions.document_at(emu.vm.profile.instance, offered_newest)
    expected = [NEWEST] if offered_newest == NEWEST else [NEWEST, offered_newest]
    assert asked(emu) == expected


@pytest.fixture(scope="module")
def oldest_only() -> Iterator[Emulator]:
    profile = profile_from_mapping({"api_versions": [OLDEST], "rate_limit": False})
    with Emulator(profile) as emu:
        yield emu


@pytest.mark.parametrize("starting_from", versions.INSTANCE_VERSIONS)
def test_falls_back_from_every_known_version_down_to_the_oldest(
    oldest_only: Emulator, starting_from: str
) -> None:
    memo = VersionMemo()
    memo.remember(oldest_only.base_url, starting_from)  # as if negotiated earlier
    before = len(oldest_only.requests)
    document = client_for(oldest_only.base_url, versions_memo=memo).instance()
    assert document.api_version == OLDEST
    assert "tags" not in document.data["compute"]  # 2017-03-01 serves only the base fields
    assert memo.recall(oldest_only.base_url) == OLDEST
    sent = asked(oldest_only)[before:]
    assert sent == ([OLDEST] if starting_from == OLDEST else [starting_from, OLDEST])


def test_the_negotiated_version_is_remembered_for_the_process(
    imds_factory: EmulatorFactory,
) -> None:
    emu = imds_factory({"api_versions": {"newest": "2021-02-01"}, "rate_limit": False})
    PROCESS_VERSIONS.forget(emu.base_url)  # a port an earlier test used may be remembered
    try:
        Client(emu.base_url, pacer=Unpaced()).instance()
        assert PROCESS_VERSIONS.recall(emu.base_url) == "2021-02-01"
        second = Client(emu.base_url, pacer=Unpaced())
        assert second.negotiated_version == "2021-02-01"
        assert second.instance().api_version == "2021-02-01"
        assert asked(emu) == [NEWEST, "2021-02-01", "2021-02-01"]
    finally:
        PROCESS_VERSIONS.forget(emu.base_url)


def test_each_endpoint_has_its_own_version(imds_factory: EmulatorFactory) -> None:
    old = imds_factory({"api_versions": {"newest": "2019-06-01"}, "rate_limit": False})
    new = imds_factory({"rate_limit": False})
    memo = VersionMemo()
    assert client_for(old.base_url, versions_memo=memo).instance().api_version == "2019-06-01"
    assert client_for(new.base_url, versions_memo=memo).instance().api_version == NEWEST
    assert memo.recall(old.base_url) == "2019-06-01" and memo.recall(new.base_url) == NEWEST


def test_a_pinned_version_is_used_as_is(imds_factory: EmulatorFactory) -> None:
    emu = imds_factory({"rate_limit": False})
    memo = VersionMemo()
    document = client_for(emu.base_url, api_version="2018-10-01", versions_memo=memo).instance()
    assert document.api_version == "2018-10-01" and "resourceId" not in document.data["compute"]
    assert asked(emu) == ["2018-10-01"]
    assert memo.recall(emu.base_url) is None  # a pin is not a negotiation


def test_a_pinned_version_the_emulator_lacks_gives_its_error(imds_factory: EmulatorFactory) -> None:
    emu = imds_factory({"api_versions": {"newest": "2019-06-01"}, "rate_limit": False})
    with pytest.raises(VersionNotAvailable, match="pinned api-version 2021-02-01") as caught:
        client_for(emu.base_url, api_version="2021-02-01").instance()
    assert caught.value.wanted == "2021-02-01"
    assert caught.value.offered == ("2019-06-01", "2019-04-30", "2019-03-11")
    assert "2019-06-01, 2019-04-30, 2019-03-11" in str(caught.value)
    assert asked(emu) == ["2021-02-01"]


def test_a_pin_that_lacks_a_needed_field_fails_before_any_traffic(
    imds_factory: EmulatorFactory,
) -> None:
    emu = imds_factory({"rate_limit": False})
    client = client_for(emu.base_url, api_version="2019-06-01", needs=["compute.tagsList"])
    with pytest.raises(
        VersionNotAvailable, match=r"compute\.tagsList needs api-version 2019-06-04"
    ):
        client.instance()
    assert emu.requests == []


def test_a_negotiated_version_that_lacks_a_needed_field_is_a_clear_error(
    imds_factory: EmulatorFactory,
) -> None:
    emu = imds_factory({"api_versions": {"newest": "2019-06-01"}, "rate_limit": False})
    client = client_for(emu.base_url, needs=["compute.tagsList"])
    with pytest.raises(VersionNotAvailable, match="offers at most 2019-06-01") as caught:
        client.instance()
    assert caught.value.wanted == "compute.tagsList"
    assert asked(emu) == [NEWEST]  # the 400 taught the version; nothing more was sent


def test_a_remembered_version_that_lacks_a_needed_field_fails_before_any_traffic(
    imds_factory: EmulatorFactory,
) -> None:
    emu = imds_factory({"api_versions": {"newest": "2019-06-01"}, "rate_limit": False})
    memo = VersionMemo()
    memo.remember(emu.base_url, "2019-06-01")
    client = client_for(emu.base_url, needs=["compute.tagsList"], versions_memo=memo)
    with pytest.raises(VersionNotAvailable, match="offers at most 2019-06-01"):
        client.instance()
    assert emu.requests == []


def test_needs_that_the_version_offers_are_fine(imds_factory: EmulatorFactory) -> None:
    emu = imds_factory({"api_versions": {"newest": "2019-06-04"}, "rate_limit": False})
    document = client_for(emu.base_url, needs=["compute.tagsList"]).instance()
    assert document.data["compute"]["tagsList"]


def test_get_of_a_node_the_version_lacks_says_so_instead_of_retrying_404s(
    imds_factory: EmulatorFactory,
) -> None:
    emu = imds_factory({"api_versions": {"newest": "2019-06-01"}, "rate_limit": False})
    with pytest.raises(VersionNotAvailable, match=r"compute\.tagsList needs api-version"):
        client_for(emu.base_url).get("compute/tagsList")
    assert len(emu.requests) == 1


class FutureImds(http.server.BaseHTTPRequestHandler):
    """An IMDS of the future: its three newest versions are unknown to this azimds."""

    offered: Sequence[str] = ()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        asked = parse_qs(parts.query).get("api-version", [""])[0]
        if parts.path == "/metadata/versions":
            self.reply(200, {"apiVersions": sorted(self.offered)})
        elif asked in self.offered:
            self.reply(200, {"compute": {"name": "future"}, "network": {"interface": []}})
        else:
            newest = sorted(self.offered, reverse=True)[:3]
            self.reply(
                400, {"error": "Bad request. api-version is invalid", "newest-versions": newest}
            )

    def reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def future_server(offered: Sequence[str]) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (FutureImds,), {"offered": tuple(offered)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def test_when_the_hint_names_no_known_version_metadata_versions_is_asked() -> None:
    server = future_server(["2021-02-01", "2098-01-01", "2099-01-01", "2099-06-01"])
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        lines: List[str] = []
        document = client_for(url, trace=lines.append).instance()
        assert document.api_version == "2021-02-01"
        assert [line.split(" ->")[0] for line in lines if line.startswith("GET")] == [
            f"GET /metadata/instance?api-version={NEWEST}",
            "GET /metadata/versions",
            "GET /metadata/instance?api-version=2021-02-01",
        ]
    finally:
        server.shutdown()
        server.server_close()


def test_an_imds_offering_nothing_known_asks_for_an_upgrade() -> None:
    server = future_server(["2098-01-01", "2099-01-01"])
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(VersionNotAvailable, match="Upgrade azimds"):
            client_for(url).instance()
    finally:
        server.shutdown()
        server.server_close()
