"""Client speed: azimds against a raw http.client floor and requests, in one run, one emulator.

The emulator serves the default VM in its own process on 127.0.0.1 with its rate limit turned
off. Each case is timed per call, the cases interleaved in rounds so drift hits all alike:

- floor: one raw ``http.client`` GET of the instance document + ``json.loads``;
- ``requests.get(...).json()``, what cloud-init uses;
- azimds: ``Client(url).instance()`` (+ ``model.normalize``), a new Client per call as a
  program would make one. The process-wide pacer is replaced by ``Unpaced`` here: a real
  program sends one request, and pacing many would measure the 5/s limit, not the client.

Then off-Azure detection in-process (and the sockets it opened, from socket audit events), and
``azimds get`` as a process (the installed console script, as a person runs it) against
``python -c pass`` plus one request: the median of ``python -c pass`` processes plus the
floor's median in-process request, both measured in this run. For scale, also a process that
only imports the standard library modules ``azimds get`` is written with (argparse, json,
socket, threading, typing).

Run: python bench/bench_client.py [--calls 300] [--processes 15]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from servers import EMULATOR, start_server

import azimds
from azimds.facts import model
from azimds.imds import versions
from azimds.imds.client import Client
from azimds.imds.errors import NotOnAzure
from azimds.imds.retry import Unpaced

PATH = f"/metadata/instance?api-version={versions.NEWEST}"
GOAL_CLIENT = 1.3
GOAL_DETECT_MS = 5.0
GOAL_PROCESS = 2.0


def start_emulator() -> Tuple[subprocess.Popen[str], str]:
    """Start the emulator in its own process; return it and its base URL."""
    return start_server(EMULATOR)


def raw_floor(host: str, port: int) -> Callable[[], Any]:
    def call() -> Any:
        connection = http.client.HTTPConnection(host, port, timeout=5)
        try:
            connection.request("GET", PATH, headers={"Metadata": "true"})
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    return call


def with_requests(url: str) -> Callable[[], Any]:
    import requests

    def call() -> Any:
        return requests.get(url + PATH, headers={"Metadata": "true"}, timeout=5).json()

    return call


def azimds_fetch(url: str) -> Callable[[], Any]:
    def call() -> Any:
        return Client(url, pacer=Unpaced()).instance()

    return call


def azimds_normalized(url: str) -> Callable[[], Any]:
    def call() -> Any:
        document = Client(url, pacer=Unpaced()).instance()
        return model.normalize(document.data, document.api_version)

    return call


def time_calls(cases: Dict[str, Callable[[], Any]], calls: int) -> Dict[str, List[float]]:
    """Return per-call seconds of each case, run interleaved in rounds of 10 calls."""
    timings: Dict[str, List[float]] = {name: [] for name in cases}
    for call in cases.values():  # warm up: imports, version negotiation, caches
        for _ in range(5):
            call()
    for _ in range(max(1, calls // 10)):
        for name, call in cases.items():
            for _ in range(10):
                started = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - started)
    return timings


def off_azure(calls: int) -> Tuple[List[float], int]:
    """Return per-call seconds of the off-Azure answer, and how many socket operations it made.

    Socket operations are counted from audit events, which every socket API raises.
    """
    counting = False
    operations = 0

    def audit(event: str, args: Tuple[Any, ...]) -> None:
        nonlocal operations
        if counting and event.startswith("socket."):
            operations += 1

    sys.addaudithook(audit)
    with tempfile.TemporaryDirectory() as dmi:
        Path(dmi, "chassis_asset_tag").write_text("Default string\n")
        environ = {"AZIMDS_DMI_DIR": dmi}
        timings = []
        counting = True
        for _ in range(calls):
            started = time.perf_counter()
            with contextlib.suppress(NotOnAzure):
                Client(environ=environ).instance()
            timings.append(time.perf_counter() - started)
        counting = False
    return timings, operations


def time_process(command: List[str], runs: int) -> List[float]:
    """Return the wall seconds of each run of ``command`` (which must succeed)."""
    timings = []
    env = {"PATH": "/usr/bin:/bin", "AZIMDS_DMI_DIR": "/nonexistent"}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        timings.append(time.perf_counter() - started)
    return timings


def ms(values: List[float]) -> str:
    return f"{statistics.median(values) * 1000:8.2f} ms"


def p90(values: List[float]) -> str:
    return f"{sorted(values)[int(len(values) * 0.9) - 1] * 1000:8.2f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per in-process case")
    parser.add_argument("--processes", type=int, default=15, help="runs per process case")
    args = parser.parse_args()

    emulator, url = start_emulator()
    try:
        host, port = url[len("http://") :].split(":")
        cases = {
            "raw http.client GET + json.loads (floor)": raw_floor(host, int(port)),
            "requests.get + .json() (cloud-init's way)": with_requests(url),
            "azimds Client().instance()": azimds_fetch(url),
            "azimds instance() + model.normalize": azimds_normalized(url),
        }
        timings = time_calls(cases, args.calls)
        detect_timings, sockets = off_azure(args.calls)
        python = sys.executable
        script = str(Path(python).with_name("azimds"))  # the console script pip installed
        one_get = (
            f"import http.client, json; c = http.client.HTTPConnection({host!r}, {port}, "
            f"timeout=5); c.request('GET', {PATH!r}, headers={{'Metadata': 'true'}}); "
            "json.loads(c.getresponse().read())"
        )
        raw_get = (
            f"import socket; s = socket.create_connection(({host!r}, {port})); "
            f"s.sendall(b'GET {PATH} HTTP/1.1\\r\\nHost: x\\r\\nMetadata: true\\r\\n"
            "Connection: close\\r\\n\\r\\n'); "
            "exec('while s.recv(65536): pass')"
        )
        stdlib = "import argparse, json, socket, threading, typing"
        processes = {
            "python -c pass": [python, "-c", "pass"],
            "python: import argparse, json, socket, ...": [python, "-c", stdlib],
            "azimds get compute/zone": [script, "get", "compute/zone", "--endpoint", url],
            "azimds get (whole document, JSON)": [script, "get", "--endpoint", url],
            "python: import socket + one raw GET": [python, "-c", raw_get],
            "python: import http.client + one GET": [python, "-c", one_get],
        }
        # An installed package has its bytecode compiled by pip; this environment sets
        # PYTHONDONTWRITEBYTECODE, so compile once here or every run would pay for it.
        import compileall

        compileall.compile_dir(str(Path(azimds.__file__).parent), quiet=1)
        process_timings: Dict[str, List[float]] = {name: [] for name in processes}
        for _ in range(args.processes):  # interleaved, one run each per round
            for name, command in processes.items():
                process_timings[name] += time_process(command, 1)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)

    floor_name = next(iter(cases))
    floor = statistics.median(timings[floor_name])
    print(f"azimds client, against the emulator at {url} (own process, no rate limit)")
    print(f"{args.calls} calls per case, interleaved; median and p90 per call\n")
    print(f"{'case':48} {'median':>11} {'p90':>11}  {'vs floor':>8}")
    for name, values in timings.items():
        ratio = statistics.median(values) / floor
        print(f"{name:48} {ms(values)} {p90(values)}  {ratio:7.2f}x")
    full = statistics.median(timings["azimds instance() + model.normalize"]) / floor
    print(
        f"\ngoal: azimds fetch + parse + normalize within {GOAL_CLIENT}x of the floor: "
        f"{full:.2f}x, {verdict(full <= GOAL_CLIENT)}"
    )

    detect_ms = statistics.median(detect_timings) * 1000
    print(
        f"\n{'off-Azure detection (NotOnAzure raised)':48} {ms(detect_timings)} "
        f"{p90(detect_timings)}  socket operations: {sockets}"
    )
    print(
        f"goal: under {GOAL_DETECT_MS:g} ms, zero packets: {detect_ms:.3f} ms, {sockets} socket "
        f"operations, {verdict(detect_ms < GOAL_DETECT_MS and sockets == 0)}"
    )

    print(f"\n{'process (wall time, median of ' + str(args.processes) + ')':48} {'median':>11}")
    for name, values in process_timings.items():
        print(f"{name:48} {ms(values)}")
    bare = statistics.median(process_timings["python -c pass"])
    baseline = bare + floor
    print(
        f"\ngoal: azimds get within {GOAL_PROCESS:g}x of python -c pass + one request "
        f"({bare * 1000:.1f} + {floor * 1000:.2f} = {baseline * 1000:.1f} ms):"
    )
    for name in ("azimds get compute/zone", "azimds get (whole document, JSON)"):
        ratio = statistics.median(process_timings[name]) / baseline
        print(f"      {name}: {ratio:.2f}x, {verdict(ratio <= GOAL_PROCESS)}")
    modules = statistics.median(process_timings["python: import argparse, json, socket, ..."])
    print(
        f"for scale: importing the standard library modules it is written with takes "
        f"{modules * 1000:.1f} ms, {modules / baseline:.2f}x of that baseline"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
