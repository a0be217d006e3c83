"""Starting the servers the benchmarks measure, each in its own process."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import List, Tuple

# The emulator as the benchmarks run it: a free port, no rate limit, no request log.
EMULATOR = [
    sys.executable,
    "-m",
    "azimds",
    "emulator",
    "serve",
    "--port",
    "0",
    "--no-rate-limit",
    "--quiet",
]


def start_server(command: List[str]) -> Tuple[subprocess.Popen[str], str]:
    """Start a server process; return it and the base URL it prints on its first line.

    Raises:
        RuntimeError: the first line names no http://HOST:PORT.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://[0-9.]+:\d+", line)
    if not match:
        process.kill()
        raise RuntimeError(f"{command[-1]}: server did not announce its URL: {line!r}")
    return process, match.group(0)
