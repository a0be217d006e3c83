"""The exit codes of the ``azimds`` command: one table for every sub-command.

Each command module returns these names and builds its ``--help`` list of them with
``help_text``, listing only the codes it can return. docs/cli.md shows the same table.
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple, Type, Union

from ..imds.errors import (
    AzimdsError,
    BadRequest,
    MalformedResponse,
    NotFound,
    NotOnAzure,
    Redirected,
    Unavailable,
    VersionNotAvailable,
)

OK = 0
OUTPUT_FAILED = 1
USAGE = 2
NOT_ON_AZURE = 3
UNAVAILABLE = 4
NOT_FOUND = 5
REJECTED = 6
VERSION = 7
BAD_RESPONSE = 8
INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C

MEANINGS: Dict[int, str] = {
    OK: "done",
    OUTPUT_FAILED: "the output could not be written (e.g. the disk is full)",
    USAGE: "usage error: a bad option or value, a malformed endpoint, or an extra to install",
    NOT_ON_AZURE: "not on Azure (or AZIMDS_DISABLE is set): nothing was sent",
    UNAVAILABLE: "IMDS unavailable: every attempt failed or the deadline passed",
    NOT_FOUND: "no such element",
    REJECTED: "request rejected by IMDS (a 4xx other than 404, 410 and 429)",
    VERSION: "api-version not available",
    BAD_RESPONSE: "unusable response (malformed, too large, a redirect)",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

# Error class -> exit code; the first matching row wins (subclasses before their bases).
ERROR_CODES: Tuple[Tuple[Type[AzimdsError], int], ...] = (
    (NotOnAzure, NOT_ON_AZURE),
    (Unavailable, UNAVAILABLE),
    (NotFound, NOT_FOUND),
    (BadRequest, REJECTED),
    (VersionNotAvailable, VERSION),
    (Redirected, BAD_RESPONSE),
    (MalformedResponse, BAD_RESPONSE),
)


def of_error(error: AzimdsError) -> int:
    """Return the exit code of an IMDS ``error`` (``BAD_RESPONSE`` for kinds not listed)."""
    for kind, code in ERROR_CODES:
        if isinstance(error, kind):
            return code
    return BAD_RESPONSE


def help_text(rows: Iterable[Union[int, Tuple[int, str]]]) -> str:
    """Return the "exit codes:" block of a ``--help``.

    Each row is a code (shown with its meaning in ``MEANINGS``) or ``(code, meaning)`` for a
    meaning of the command's own; they are listed in the order of their codes.
    """
    pairs = [row if isinstance(row, tuple) else (row, MEANINGS[row]) for row in rows]
    return "\n".join(
        ["exit codes:", *(f"  {code:>3}  {meaning}" for code, meaning in sorted(pairs))]
    )
