"""The ``azimds`` command: one entry point whose sub-commands come from each part of azimds."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="azimds",
        description="Azure Instance Metadata Service for people and configuration management.",
    )
    parser.add_argument("--version", action="version", version=f"azimds {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    from . import commands as imds_commands
    from .attest import cli as attest_cli
    from .emulator import cli as emulator_cli

    imds_commands.register(commands)
    attest_cli.register(commands)
    emulator_cli.register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
