"""Command lines read without argparse mean exactly what argparse says they mean.

``cmdline.read`` is a shortcut for ordinary command lines; argparse, built from the same
``Command``, stays the judge. Whenever ``read`` answers, argparse must accept the line and give
the same values; whenever the line is unusual or wrong, ``read`` must step aside (None) so that
argparse prints the help or the error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
from typing import List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azimds.cli import cmdline
from azimds.cli.cmdline import Command, Values
from azimds.cli.imds_commands import COMMANDS
from azimds.emulator import Emulator


def with_argparse(command: Command, argv: List[str]) -> Optional[Values]:
    """Return the Values argparse gives ``argv``, or None when argparse refuses it or exits."""
    parser = argparse.ArgumentParser(prog="azimds")
    cmdline.add_parser(parser.add_subparsers(), command)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return command.values_of(parser.parse_args([command.name, *argv]))
        except SystemExit:
            return None


def words_for(command: Command) -> st.SearchStrategy[str]:
    """Words a person might type after ``command``: its flags, values good and bad, noise."""
    flags = [flag for option in command.options for flag in option.flags]
    values = [choice for option in command.options for choice in option.choices or ()]
    assigned = [f"{flag}={value}" for flag in flags if flag.startswith("--") for value in values]
    noise = ["-h", "--help", "--", "-", "", "--end", "--form", "-ojson", "-vo", "--verbose=1"]
    noise += ["--nope", "compute/zone", "network", "5", "0", "-5", "1e3", "abc", "json", "x=y"]
    noise += ["http://127.0.0.1:8169", "2021-02-01", "--timeout=-1", "--endpoint="]
    return st.sampled_from(flags + values + assigned + noise)


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[Command, List[str]]:
    command = draw(st.sampled_from(list(COMMANDS.values())))
    return command, draw(st.lists(words_for(command), max_size=7))


@given(command_lines())
def test_read_agrees_with_argparse_or_steps_aside(case: tuple[Command, List[str]]) -> None:
    command, argv = case
    fast = cmdline.read(command, argv)
    if fast is not None:
        assert with_argparse(command, argv) == fast


@pytest.mark.parametrize(
    "name, argv",
    [
        ("get", []),
        ("get", ["compute/zone"]),
        ("get", ["compute/zone", "--endpoint", "http://127.0.0.1:8169"]),
        ("get", ["--endpoint=http://127.0.0.1:8169", "-v", "network/interface/0"]),
        ("get", ["compute", "--format", "text", "--api-version", "2021-02-01"]),
        ("get", ["--timeout", "5", "compute/tagsList"]),
        ("facts", ["--for", "salt", "-o", "json"]),
        ("facts", ["--for=cloud-init", "--output=table"]),
        ("tags", ["-o", "json"]),
        ("versions", ["--endpoint", "http://127.0.0.1:8169"]),
        ("detect", ["-o", "json"]),
    ],
)
def test_ordinary_command_lines_are_read_without_argparse(name: str, argv: List[str]) -> None:
    command = COMMANDS[name]
    fast = cmdline.read(command, argv)
    assert fast is not None
    assert fast == with_argparse(command, argv)


@pytest.mark.parametrize(
    "name, argv",
    [
        ("get", ["-h"]),
        ("get", ["--end", "http://127.0.0.1:8169"]),  # an abbreviation argparse accepts
        ("get", ["--format", "yaml"]),
        ("get", ["--timeout", "0"]),
        ("get", ["--timeout"]),
        ("get", ["a", "b"]),
        ("get", ["--", "compute"]),
        ("facts", ["--for", "chef"]),
        ("detect", ["--timeout", "5"]),
        ("tags", ["-v=1"]),
    ],
)
def test_anything_unusual_is_left_to_argparse(name: str, argv: List[str]) -> None:
    assert cmdline.read(COMMANDS[name], argv) is None


def test_help_and_errors_come_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    from azimds.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["get", "--timeout", "0"])
    assert exited.value.code == 2
    assert "'0' is not a positive number of seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["facts", "--help"])
    assert exited.value.code == 0
    assert "--for {ansible,salt,cloud-init}" in capsys.readouterr().out


HEAVY = ("argparse", "typing", "re", "json", "socket", "enum", "threading", "collections")


@pytest.mark.parametrize("argv", [["get", "compute/zone"], ["get"], ["detect", "-o", "json"]])
def test_azimds_get_loads_none_of_the_slow_modules(imds: Emulator, argv: List[str]) -> None:
    """Start-up is the cost of ``azimds get``: these modules would double it (see __init__)."""
    script = (
        "import sys\n"
        "from azimds.cli import main\n"
        f"code = main({[*argv, '--endpoint', imds.base_url]!r})\n"
        f"print('loaded:', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout
    assert done.stderr.splitlines()[-1] == "loaded: []"
