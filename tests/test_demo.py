"""`make demo` says only what is true: what it suggests can be done, and nothing not built."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from azimds import demo
from azimds.cli import build_parser

REPOSITORY = Path(__file__).resolve().parent.parent


def test_every_command_the_demo_suggests_exists() -> None:
    commands = re.findall(r"azimds ([^&\n]+)", demo.CLOSING)
    assert commands
    for command in commands:
        argv = shlex.split(command)
        build_parser(argv[0]).parse_args(argv)  # exits (a failure here) on anything unknown


def test_every_file_the_demo_names_exists() -> None:
    named = re.findall(r"[\w/-]+\.md", demo.CLOSING)
    assert named
    for path in named:
        assert (REPOSITORY / path).is_file(), path


def test_the_demo_promises_nothing_the_readme_says_is_not_built() -> None:
    readme = (REPOSITORY / "README.md").read_text()
    not_built = [
        row.split("|")[1].strip() for row in readme.splitlines() if row.endswith("not yet built |")
    ]
    if not_built:
        assert "integration" not in demo.CLOSING.lower()
    for part in not_built:
        tool = part.split()[0]  # "Ansible", "Salt", "cloud-init"
        assert tool.lower() not in demo.CLOSING.lower(), part
