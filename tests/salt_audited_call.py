"""salt-call with every socket operation recorded, run by the off-Azure tests.

    python salt_audited_call.py EVENTS_FILE SALT_CALL_ARGUMENTS...

Each ``socket.*`` audit event the process raises (creating, binding, connecting, sending,
looking up names: whoever asks, Salt or azimds, from Python) is kept with its arguments and
written to EVENTS_FILE as JSON when salt-call exits.
"""

from __future__ import annotations

import atexit
import json
import sys
from typing import Any, List, Tuple

EVENTS: List[Tuple[str, str]] = []


def record(event: str, args: Tuple[Any, ...]) -> None:
    if event.startswith("socket."):
        shown = [a for a in args if not hasattr(a, "fileno")]  # the socket object itself varies
        EVENTS.append((event, repr(shown)))


def save(path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(EVENTS, handle)


if __name__ == "__main__":
    sys.addaudithook(record)
    atexit.register(save, sys.argv[1])
    sys.argv = ["salt-call", *sys.argv[2:]]
    from salt.scripts import salt_call

    salt_call()
