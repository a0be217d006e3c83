"""The ``azimds`` command: one argparse parser, its sub-commands added by each part of azimds.

``azimds get``, ``facts``, ``tags``, ``versions`` and ``detect`` come from ``imds_commands``;
``attest`` and ``verify`` from ``azimds.attest.cli``; ``emulator`` from ``azimds.emulator.cli``.
A command line that names one of them loads only that part: ``azimds get`` does not import the
emulator or the verifier to read its arguments. Each sub-command's parser sets ``handler``,
which runs the command and returns its exit code (``exits.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional

from .. import __version__
from . import exits, output
from .extras import missing_extra

IMDS_COMMANDS = ("get", "facts", "tags", "versions", "detect")
ATTEST_COMMANDS = ("attest", "verify")
EMULATOR_COMMANDS = ("emulator",)
# The extra (extras.py) each command needs beyond the standard library.
EXTRA_OF = {"attest": "attest", "verify": "attest", "emulator": "emulator"}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Return the argument parser of ``azimds``; for a known ``command``, with that one's part
    only (every part otherwise, e.g. for ``azimds --help``)."""
    parser = argparse.ArgumentParser(
        prog="azimds",
        description="Azure Instance Metadata Service for people and configuration management.",
    )
    parser.add_argument("--version", action="version", version=f"azimds {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    every = command not in IMDS_COMMANDS + ATTEST_COMMANDS + EMULATOR_COMMANDS
    if every or command in IMDS_COMMANDS:
        from . import imds_commands

        imds_commands.register(commands)
    if every or command in ATTEST_COMMANDS:
        from ..attest import cli as attest_cli

        attest_cli.register(commands)
    if every or command in EMULATOR_COMMANDS:
        from ..emulator import cli as emulator_cli

        emulator_cli.register(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line ``argv`` (default: the process's) and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        code = _run(handler, args)
        output.finish()
        return code
    except KeyboardInterrupt:
        output.say("interrupted")
        return exits.INTERRUPTED
    except BrokenPipeError:  # the reader went away (`azimds facts | head`): stop quietly
        output.discard_stdout()
        return exits.OK
    except output.OutputFailed as exc:
        output.discard_stdout()
        output.say(f"cannot write the output: {exc}")
        return exits.OUTPUT_FAILED


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Return ``handler(args)``; a module of an extra that is not installed is exit 2."""
    try:
        return handler(args)
    except ImportError as exc:
        extra = EXTRA_OF.get(args.command)
        message = missing_extra(exc, extra) if extra is not None else None
        if message is None:
            raise
        output.say(message)
        return exits.USAGE
