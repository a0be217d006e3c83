"""Shared test helpers: HTTP over loopback, raw sockets, a virtual clock for emulator and client.

Every helper refuses any host that is not loopback: the tests never send a packet elsewhere
(the one exception, 169.254.169.254, lives inside a private network namespace that
test_emulator_netns.py creates and talks to from inside).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from azimds.emulator.sandbox import EmulatorProcess
from azimds.emulator.server import Emulator

METADATA = {"Metadata": "true"}
DOC_HOST = "http://169.254.169.254"


class FakeClock:
    """Virtual monotonic time, moved by hand or by sleeping.

    Give it to the emulator (``clock=clock``) and to a client (``clock=clock,
    sleep=clock.sleep``): minutes of retrying then pass at once. ``slept`` lists every wait.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: List[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


INSTANCE = "/metadata/instance?api-version=2021-02-01"


def statuses(base_url: str, count: int, target: str = INSTANCE) -> List[int]:
    """Return the status of each of ``count`` GETs of ``target``."""
    return [request(base_url, target).status for _ in range(count)]


@dataclass
class Reply:
    """One HTTP response as a test sees it."""

    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def address(base_url: str) -> Tuple[str, int]:
    """Return (host, port) of a loopback base URL; refuse anything else."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    assert ipaddress.ip_address(host).is_loopback, f"tests talk to loopback only, not {host}"
    return host, parts.port or 80


def request(
    base_url: str,
    target: str,
    *,
    method: str = "GET",
    headers: Optional[Mapping[str, str]] = None,
    body: Optional[bytes] = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request with http.client (Metadata: true unless ``headers`` is given)."""
    host, port = address(base_url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(
            method, target, body=body, headers=dict(METADATA if headers is None else headers)
        )
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def try_request(base_url: str, target: str) -> Optional[Reply]:
    """Send a GET like ``request``; return None when the connection fails or the body is cut."""
    try:
        return request(base_url, target)
    except (ConnectionError, http.client.IncompleteRead):
        return None


def control(base_url: str, method: str, path: str, payload: Any = None) -> Reply:
    """Call the control API (no Metadata header, JSON body)."""
    body = None if payload is None else json.dumps(payload).encode()
    return request(base_url, path, method=method, headers={}, body=body)


def exchange(base_url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return everything received until it closes."""
    sock = socket.create_connection(address(base_url), timeout=timeout)
    try:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received
    finally:
        sock.close()


def status_of(raw: bytes) -> int:
    """Return the status code of a raw HTTP/1.1 response (0 when there is none)."""
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) < 2 or parts[0] != b"HTTP/1.1" or not parts[1].isdigit():
        return 0
    return int(parts[1])


def body_of(raw: bytes) -> bytes:
    """Return the body of a raw HTTP response."""
    return raw.partition(b"\r\n\r\n")[2]


def serves_normally(base_url: str) -> bool:
    """Return True when a plain, valid request is answered 200 with the version list."""
    reply = request(base_url, "/metadata/versions")
    return reply.status == 200 and "apiVersions" in reply.json()


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def no_proxy_env() -> Dict[str, str]:
    """Return the environment without proxy settings (curl must talk straight to loopback)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


def run_documented(command: str, base_url: str) -> Tuple[int, bytes]:
    """Run a curl command of azure-imds-2019.md against ``base_url``; return (status, body).

    The documented command is used as written, with only the documented host replaced by the
    emulator's loopback base URL; ``-s -w`` are appended to learn the status code.
    """
    address(base_url)
    assert command.startswith("curl ") and DOC_HOST in command
    argv = shlex.split(command.replace(DOC_HOST, base_url))
    argv += ["-s", "-w", "\n%{http_code}"]
    done = subprocess.run(argv, capture_output=True, timeout=30, env=no_proxy_env(), check=True)
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def run_documented_pipeline(command: str, base_url: str) -> bytes:
    """Run a documented shell pipeline (curl ... | base64 --decode) against ``base_url``."""
    address(base_url)
    assert command.startswith("curl ") and DOC_HOST in command
    done = subprocess.run(
        ["sh", "-c", command.replace(DOC_HOST, base_url)],
        capture_output=True,
        timeout=30,
        env=no_proxy_env(),
        check=True,
    )
    return done.stdout


def scalars(node: Any, path: str = "") -> List[Tuple[str, Any]]:
    """Return (path, value) for every scalar in a JSON document."""
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in scalars(v, f"{path}.{k}".lstrip("."))]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in scalars(v, f"{path}[{i}]")]
    return [(path, node)]


def base_urls(emulator: Emulator) -> List[str]:
    """Return the base URL of every VM of a running emulator."""
    return [vm.base_url for vm in emulator.vms]


# `azimds emulator ...` in a child process, optionally under a lower open-file limit: the
# limit is set in the child just before it becomes the emulator, never in the test process.
_LIMITED = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'azimds', *sys.argv[2:]])"
)


def azimds_command(open_files: Optional[int] = None) -> List[str]:
    """Return the command line of ``azimds``, under ``open_files`` if given."""
    if open_files is None:
        return [sys.executable, "-m", "azimds"]
    return [sys.executable, "-c", _LIMITED, str(open_files)]


def emulator_command(*args: str, open_files: Optional[int] = None) -> List[str]:
    """Return the command line of ``azimds emulator ARGS``, under ``open_files`` if given."""
    return [*azimds_command(open_files), "emulator", *args]


def start_emulator(
    *args: str, open_files: Optional[int] = None
) -> Tuple[subprocess.Popen[str], str]:
    """Start ``azimds emulator serve ARGS`` (port 0); return the process and its base URL.

    Its standard error is a pipe: read it after the process ends, or keep it short (--quiet).
    """
    emulator = EmulatorProcess(
        ["serve", "--port", "0", *args],
        azimds=azimds_command(open_files),
        stderr=subprocess.PIPE,
    ).start()
    assert emulator.process is not None
    address(emulator.base_url)  # loopback only
    return emulator.process, emulator.base_url


def resident_bytes(pid: int) -> int:
    """Return the resident memory of process ``pid`` (Linux /proc), in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")
