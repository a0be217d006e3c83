"""One exit-code table (azimds/cli/exits.py) for every command, its --help and docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest

from azimds.cli import build_parser, exits, main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser(command).parse_args([command, "--help"])
    return capsys.readouterr().out


def listed_codes(text: str) -> Dict[int, str]:
    """Return code -> meaning of the "exit codes:" block of a --help."""
    block = text.split("exit codes:\n", 1)[1]
    rows: Dict[int, str] = {}
    for line in block.splitlines():
        found = re.match(r"^\s+(\d+)\s+(.*)$", line)
        if not found:
            break
        rows[int(found.group(1))] = found.group(2)
    return rows


def test_verify_lists_only_the_codes_verify_can_return(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verify = listed_codes(help_of("verify", capsys))
    attest = listed_codes(help_of("attest", capsys))
    assert exits.NOT_ON_AZURE not in verify and exits.UNAVAILABLE not in verify
    assert exits.NOT_ON_AZURE in attest and exits.UNAVAILABLE in attest
    assert set(attest) - set(verify) == {exits.NOT_ON_AZURE, exits.UNAVAILABLE}


@pytest.mark.parametrize("command", ["get", "facts", "tags", "versions"])
def test_the_imds_commands_list_the_shared_table(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert listed_codes(help_of(command, capsys)) == exits.MEANINGS


def test_every_command_lists_its_codes_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("get", "detect", "attest", "verify"):
        codes: List[int] = list(listed_codes(help_of(command, capsys)))
        assert codes == sorted(codes), command


def test_docs_list_the_same_codes_as_the_table() -> None:
    text = DOCS.read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = [int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)]
    assert documented == sorted(exits.MEANINGS)


@pytest.mark.parametrize("command", ["get", "attest"])
@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "inf", "soon"])
def test_a_timeout_that_is_not_positive_and_finite_is_a_usage_error(
    command: str, seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([command, "--timeout", seconds, "--endpoint", "http://127.0.0.1:9"])
    assert caught.value.code == exits.USAGE
    assert f"{seconds!r} is not a positive number of seconds" in capsys.readouterr().err
