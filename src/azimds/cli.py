"""The ``azimds`` command: one entry point whose sub-commands come from each part of azimds."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Dict, List, Optional, Sequence

from . import __version__

# Which module registers each sub-command (each module has ``register(subparsers)``).
COMMAND_MODULES: Dict[str, str] = {
    "get": "commands",
    "facts": "commands",
    "tags": "commands",
    "versions": "commands",
    "detect": "commands",
    "attest": "attest.cli",
    "verify": "attest.cli",
    "emulator": "emulator.cli",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Return the argument parser; with a known ``command``, only that command's module.

    Loading one module instead of all keeps ``azimds get`` from importing the emulator and
    the verifier just to parse its own arguments.
    """
    parser = argparse.ArgumentParser(
        prog="azimds",
        description="Azure Instance Metadata Service for people and configuration management.",
    )
    parser.add_argument("--version", action="version", version=f"azimds {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    if command in COMMAND_MODULES:
        modules: Sequence[str] = [COMMAND_MODULES[command]]
    else:
        modules = list(dict.fromkeys(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f".{module}", __package__).register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
