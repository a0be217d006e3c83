"""Emulator throughput: full /metadata/instance documents per second at 50 keep-alive clients.

Each server runs in its own process; the load comes from `wrk` (installed with apt-get when
missing and permitted) or, failing that, from a Python asyncio load generator in another
process. The emulator is printed beside two baselines measured in the same run:

- static-asyncio: a minimal asyncio server answering every request with the same bytes
  (the floor for any Python server on this event loop);
- static-http.server: the standard library's ThreadingHTTPServer answering the same bytes.

Run: python bench/bench_emulator.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from servers import EMULATOR, start_server

STATIC = Path(__file__).resolve().parent / "static_server.py"
VERSION = "2025-04-07"
PATH = f"/metadata/instance?api-version={VERSION}"
CONNECTIONS = 50


def have_wrk() -> bool:
    """Return True when wrk is available, installing it with apt-get if we may."""
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    return shutil.which("wrk") is not None


def run_wrk(url: str, seconds: int) -> Dict[str, float]:
    """Return requests/s and p50/p99 latency (ms) from a wrk run against ``url``."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            "Metadata: true",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": _wrk_ms(out, "50%"),
        "p99": _wrk_ms(out, "99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _wrk_ms(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_python_load(url: str, seconds: int) -> Dict[str, float]:
    """Return the same figures as run_wrk, from a Python load generator in a subprocess."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: Dict[str, float] = json.loads(out)
    return result


async def _client(host: str, port: int, target: str, until: float, latencies: List[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nMetadata: true\r\n\r\n".encode()
    errors = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        errors += not head.startswith(b"HTTP/1.1 200")
    writer.close()
    return errors


async def _load(url: str, seconds: int) -> Dict[str, float]:
    host, port = url[len("http://") :].split(":")
    latencies: List[float] = []
    until = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(_client(host, int(port), PATH, until, latencies) for _ in range(CONNECTIONS))
    )
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / seconds,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[int(len(ordered) * 0.99)] * 1000,
        "errors": float(sum(errors)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(_load(args.load, args.seconds))))
        return

    candidates = {
        "emulator (azimds)": EMULATOR,
        "baseline static-asyncio": [sys.executable, str(STATIC), "asyncio"],
        "baseline static-http.server": [sys.executable, str(STATIC), "threading"],
    }
    use_wrk = have_wrk()
    loader = "wrk -t1 -c50" if use_wrk else "python asyncio, 50 connections"
    print(
        f"\n== emulator: GET {PATH} (full document), {CONNECTIONS} keep-alive clients, "
        f"{args.seconds}s each, load from {loader}"
    )
    results: Dict[str, Dict[str, float]] = {}
    for name, command in candidates.items():
        process, url = start_server(command)
        try:
            measure = run_wrk if use_wrk else run_python_load
            measure(url + PATH, 1)  # warm up
            results[name] = measure(url + PATH, args.seconds)
        finally:
            process.terminate()
            process.wait()
    floor = results["baseline static-asyncio"]["rps"]
    print(f"{'server':32} {'docs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs static-asyncio':>18}")
    for name, r in results.items():
        print(
            f"{name:32} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
            f"{r['rps'] / floor:17.2f}x" + ("  (errors!)" if r["errors"] else "")
        )
    emu = results["emulator (azimds)"]
    print(
        f"goal: >= 3000 docs/s and p99 < 10 ms -> "
        f"{'met' if emu['rps'] >= 3000 and emu['p99'] < 10 else 'NOT met'}"
    )
    print(f"a 1,000-VM fleet, one document each at this rate: {1000 / emu['rps']:.2f} s")


if __name__ == "__main__":
    main()
