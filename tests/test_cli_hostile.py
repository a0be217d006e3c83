"""The command against servers that misbehave, odd environments and impatient people.

Servers here answer with bytes chosen by the test (canned_server.py): control characters,
numbers that are not JSON, fields that do not decode. Whatever they send, the command prints
only printable text, exits with its documented code, and never shows a traceback.
"""

from __future__ import annotations

import copy
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Dict, Iterator

import pytest

from azimds.emulator import Emulator
from azimds.emulator.profile import default_profile
from azimds.emulator.pytest_plugin import EmulatorFactory
from azimds.imds import versions
from canned_server import CannedServer, http_reply, json_reply
from cli_support import azimds_process, run
from cli_support import isolated as isolated  # a fixture, used by name below

pytestmark = pytest.mark.usefixtures("isolated")

HOSTILE = "\x1b]0;owned\x07\x1b[2J\rBEL\x07\x9b31m"  # title, clear screen, CR, BEL, C1 CSI


def newest_document() -> Dict[str, Any]:
    return copy.deepcopy(versions.document_at(default_profile().instance, versions.NEWEST))


def all_printable(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


@pytest.fixture
def emu(imds_factory: EmulatorFactory) -> Emulator:
    return imds_factory({"rate_limit": False})


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL where nothing listens: connections are refused.

    The port stays bound (without listening) for the whole test, so that no other server,
    of this run or another, can take it meanwhile.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


# --- nothing from the network reaches the terminal raw -------------------------------------


def test_a_value_with_control_characters_is_printed_printable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with CannedServer([json_reply(200, json.dumps({"zone": HOSTILE}))]) as server:
        code, out, err = run(capsys, "get", "compute/zone", "--endpoint", server.base_url)
    assert (code, err) == (0, "")
    assert out == "?]0;owned??[2J?BEL??31m\n"


def test_json_output_escapes_control_characters_and_keeps_the_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = {"compute": {"zone": HOSTILE}, "network": {}}
    with CannedServer([json_reply(200, json.dumps(document))]) as server:
        code, out, _ = run(capsys, "get", "compute", "--endpoint", server.base_url)
    assert code == 0 and all_printable(out)
    assert json.loads(out) == {"zone": HOSTILE}


def test_the_service_error_text_is_printable(capsys: pytest.CaptureFixture[str]) -> None:
    reply = json_reply(400, json.dumps({"error": f"Bad request{HOSTILE}"}))
    with CannedServer([reply]) as server:
        code, out, err = run(capsys, "get", "--endpoint", server.base_url)
    assert (code, out) == (6, "")
    assert "Bad request?]0;owned" in err and all_printable(err)


def test_a_location_header_is_printable(capsys: pytest.CaptureFixture[str]) -> None:
    reply = http_reply(302, b"", f"Location: http://elsewhere/{HOSTILE}", reason="Found")
    with CannedServer([reply]) as server:
        code, out, err = run(capsys, "facts", "--endpoint", server.base_url)
    assert (code, out) == (8, "")
    assert "redirecting to http://elsewhere/?]0;owned" in err and all_printable(err)


def test_a_reason_phrase_is_printable(capsys: pytest.CaptureFixture[str]) -> None:
    with CannedServer([http_reply(600, b"", reason=HOSTILE)]) as server:
        code, _, err = run(capsys, "get", "--endpoint", server.base_url)
    assert code == 8 and "unexpected HTTP 600 ?]0;owned" in err and all_printable(err)


def test_tags_in_a_table_are_printable(capsys: pytest.CaptureFixture[str]) -> None:
    document = newest_document()
    document["compute"]["tagsList"] = [{"name": "Owner", "value": HOSTILE}]
    with CannedServer([json_reply(200, json.dumps(document))]) as server:
        code, out, err = run(capsys, "tags", "-o", "table", "--endpoint", server.base_url)
    assert (code, err) == (0, "")
    assert out.splitlines()[1].split() == ["Owner", "?]0;owned??[2J?BEL??31m"]


def test_verbose_lines_are_printable(capsys: pytest.CaptureFixture[str]) -> None:
    replies = [
        json_reply(500, json.dumps({"error": HOSTILE})),
        json_reply(200, json.dumps({"zone": "1"})),
    ]
    with CannedServer(replies) as server:
        code, out, err = run(capsys, "get", "compute/zone", "-v", "--endpoint", server.base_url)
    assert (code, out) == (0, "1\n")
    assert "HTTP 500 (?]0;owned" in err and all_printable(err)


# --- numbers on the wire are ASCII digits ------------------------------------------------


def test_a_status_in_superscript_digits_is_not_a_response(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with CannedServer([b"HTTP/1.1 2\xb20 OK\r\nContent-Length: 2\r\n\r\n{}"]) as server:
        code, out, err = run(capsys, "get", "--timeout", "0.5", "--endpoint", server.base_url)
    assert (code, out) == (4, "")
    assert "not an HTTP/1.x status line" in err and "Traceback" not in err


def test_a_retry_after_in_superscript_digits_is_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    replies = [
        http_reply(503, b"{}", "Retry-After: \xb2"),  # sent as the Latin-1 byte 0xB2
        json_reply(200, json.dumps({"zone": "1"})),
    ]
    with CannedServer(replies) as server:
        code, out, err = run(capsys, "get", "compute/zone", "--endpoint", server.base_url)
    assert (code, out, err) == (0, "1\n", "")
    assert len(server.received) == 2


# --- IMDS documents are strict JSON, for every command ---------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "1" * 5000])
@pytest.mark.parametrize("command", [["get"], ["get", "compute"], ["facts"], ["tags"]])
def test_numbers_json_does_not_have_are_a_malformed_document(
    capsys: pytest.CaptureFixture[str], number: str, command: Any
) -> None:
    body = f'{{"compute": {{"platformFaultDomain": {number}}}, "network": {{"interface": []}}}}'
    with CannedServer([json_reply(200, body)]) as server:
        code, out, err = run(capsys, *command, "--endpoint", server.base_url)
    assert (code, out) == (8, "")
    assert "not valid JSON" in err and "Traceback" not in err


def test_a_fault_domain_of_5000_digits_is_a_malformed_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = newest_document()
    document["compute"]["platformFaultDomain"] = "9" * 5000
    with CannedServer([json_reply(200, json.dumps(document))]) as server:
        code, out, err = run(capsys, "facts", "--endpoint", server.base_url)
    assert (code, out) == (8, "")
    assert "compute.platformFaultDomain must be a whole number of at most 19 digits" in err
    assert "9" * 41 not in err


# --- one field that cannot be decoded takes nothing else away ------------------------------


@pytest.mark.parametrize("field", ["userData", "customData"])
def test_data_that_is_not_base64_is_a_warning_and_every_other_fact_is_served(
    capsys: pytest.CaptureFixture[str], field: str
) -> None:
    document = newest_document()
    document["compute"][field] = "secret-ish, not base64!"
    with CannedServer([json_reply(200, json.dumps(document))]) as server:
        code, out, err = run(capsys, "facts", "--endpoint", server.base_url)
        assert code == 0
        facts = json.loads(out)
        assert facts["placement"]["zone"] == "1" and facts["vm_size"] == "Standard_D2s_v5"
        assert facts["field_warnings"] == [f"compute.{field} is not valid base64 " + (
            "(value not shown); left out, every other fact is read"
        )]  # fmt: skip
        assert err == f"azimds: warning: {facts['field_warnings'][0]}\n"
        code, out, err = run(capsys, "tags", "--endpoint", server.base_url)
        assert code == 0 and json.loads(out)["Environment"] == "Prod"
        assert "not valid base64" in err and "secret-ish" not in out + err


# --- where azimds talks, and what it says when nobody answers --------------------------------


@pytest.mark.parametrize("endpoint", ["localhost:8169", "https://127.0.0.1:8169", "http://a/b"])
def test_detect_checks_the_endpoint_as_get_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AZIMDS_ENDPOINT", endpoint)
    for command in ("detect", "get"):
        code, out, err = run(capsys, command)
        assert (code, out) == (2, ""), command
        assert "is not of the form http://HOST[:PORT]" in err
    monkeypatch.delenv("AZIMDS_ENDPOINT")
    assert run(capsys, "detect", "--endpoint", endpoint)[0] == 2


def test_disable_with_an_endpoint_says_that_disable_is_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, emu: Emulator
) -> None:
    monkeypatch.setenv("AZIMDS_DISABLE", "1")
    code, out, err = run(capsys, "get", "--endpoint", emu.base_url)
    assert (code, out) == (3, "")
    assert "AZIMDS_DISABLE=1 is set" in err and "unset it" in err
    assert "pass an endpoint" not in err
    assert emu.requests == []


def test_an_unreachable_emulator_endpoint_is_named_and_the_emulator_asked_about(
    capsys: pytest.CaptureFixture[str], refused_url: str
) -> None:
    code, out, err = run(capsys, "get", "--timeout", "0.5", "--endpoint", refused_url)
    assert (code, out) == (4, "")
    assert f"{refused_url}/metadata/instance" in err and "connection refused" in err
    assert "is the emulator running?" in err and "169.254.169.254" not in err
    assert "retrying" not in err  # stderr is not a terminal here: no status line


# --- paths that cannot exist are known before any request -----------------------------------


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("compute/zone/extra", "compute/zone is a single value: it has no 'extra'"),
        ("Compute", "the instance document has no 'Compute'; did you mean 'compute'? At api-ver"),
        ("compute/Zone", "did you mean 'zone'?"),
        ("network/interface/first", "network/interface is a list: its elements are numbered"),
    ],
)
@pytest.mark.parametrize("format", [[], ["--format", "text"], ["--format", "json"]])
def test_a_path_that_cannot_exist_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str], emu: Emulator, path: str, said: str, format: Any
) -> None:
    code, out, err = run(capsys, "get", path, *format, "--endpoint", emu.base_url)
    assert (code, out) == (5, "")
    assert said in err and "Nothing was sent" in err
    assert emu.requests == []


def test_the_children_that_exist_are_listed(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    _, _, err = run(capsys, "get", "Compute", "--endpoint", emu.base_url)
    assert f"At api-version {versions.NEWEST} it has: compute, network. Nothing was sent" in err


def test_an_index_past_the_end_of_an_array_is_no_element(
    capsys: pytest.CaptureFixture[str], emu: Emulator
) -> None:
    code, out, err = run(capsys, "get", "network/interface/9", "--endpoint", emu.base_url)
    assert (code, out) == (5, "")
    assert "no element '9' under network/interface" in err and "it has: 0 (" in err
    assert len(emu.requests) == 1  # the list, asked once: no retries


# --- output that cannot be written, and Ctrl-C ---------------------------------------------


@pytest.mark.parametrize("command", [["facts", "-o", "json"], ["get", "compute/zone"]])
def test_a_full_disk_is_a_message_and_exit_1(emu: Emulator, command: Any) -> None:
    with open("/dev/full", "w") as full:
        done = azimds_process(*command, "--endpoint", emu.base_url, stdout=full)
    assert done.returncode == 1
    assert done.stderr == "azimds: cannot write the output: No space left on device\n"


def test_retrying_is_one_status_line_on_a_terminal_and_ctrl_c_exits_130(
    refused_url: str,
) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "azimds", "get", "--endpoint", refused_url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        env={"PATH": "/usr/bin:/bin", "AZIMDS_DMI_DIR": "/nonexistent"},
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while b"attempt 3" not in seen and time.monotonic() < deadline:  # two retries shown
        if select.select([leader], [], [], 1.0)[0]:
            seen += os.read(leader, 4096)
        assert process.poll() is None, seen
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    text = seen.decode()
    shown = rf"\razimds: retrying: attempt 2 in [01]\.\ds \({re.escape(refused_url)}: cannot conn"
    assert re.search(shown, text), text
    assert "\n" not in text.split("azimds: interrupted")[0]  # one line, rewritten in place
    assert text.endswith("\r\x1b[Kazimds: interrupted\r\n")  # cleared, then the message
    assert "Traceback" not in text
    assert process.stdout is not None and process.stdout.read() == b""


def test_a_result_after_a_retry_on_a_terminal_clears_the_status_line_first(emu: Emulator) -> None:
    emu.add_fault({"kind": "status", "status": 500, "times": 1})
    leader, follower = pty.openpty()  # stdout and stderr on one terminal, as in a shell
    process = subprocess.Popen(
        [sys.executable, "-m", "azimds", "get", "compute/zone", "--endpoint", emu.base_url],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={"PATH": "/usr/bin:/bin", "AZIMDS_DMI_DIR": "/nonexistent"},
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(timeout=30) == 0
    text = seen.decode()
    shown = r"\razimds: retrying: attempt 2 in [01]\.\ds \([^\r\n]*\x1b\[K"  # cut to the width
    assert re.fullmatch(shown + r"\r\x1b\[K1\r\n", text), text  # cleared, then the zone
