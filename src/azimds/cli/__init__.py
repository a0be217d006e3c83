"""The ``azimds`` command: one entry point whose sub-commands come from each part of azimds.

A module with a ``COMMANDS`` table (``cmdline.Command`` by name) has its ordinary command lines
read without argparse (see azimds/cli/cmdline.py); every module has ``register(subparsers)`` for
argparse, which answers ``--help`` and reports errors.
"""

from __future__ import annotations

import importlib
import sys

from .. import __version__
from . import cmdline

TYPE_CHECKING = False  # typing is not imported at run time: see azimds/__init__.py
if TYPE_CHECKING:
    import argparse
    from typing import Dict, List, Optional, Sequence

# Which module registers each sub-command (each module has ``register(subparsers)``).
COMMAND_MODULES: Dict[str, str] = {
    "get": "azimds.cli.imds_commands",
    "facts": "azimds.cli.imds_commands",
    "tags": "azimds.cli.imds_commands",
    "versions": "azimds.cli.imds_commands",
    "detect": "azimds.cli.imds_commands",
    "attest": "azimds.attest.cli",
    "verify": "azimds.attest.cli",
    "emulator": "azimds.emulator.cli",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Return the argument parser; with a known ``command``, only that command's module.

    Loading one module instead of all keeps ``azimds get`` from importing the emulator and
    the verifier just to parse its own arguments.
    """
    import argparse

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
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMAND_MODULES:
        module = importlib.import_module(COMMAND_MODULES[argv[0]])
        command: Optional[cmdline.Command] = getattr(module, "COMMANDS", {}).get(argv[0])
        values = cmdline.read(command, argv[1:]) if command is not None else None
        if command is not None and values is not None:
            return int(command.handler(values))
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
