"""cloud-init: the AzureImds datasource against the built-in Azure datasource's own IMDS fetch.

For each Debian cloud-init unpacked by ``tests/cloud_init_packages.py`` (``make bench`` runs it),
one child process runs inside a private network namespace (``unshare -rn``: only its own
loopback, with 169.254.169.254 added), where the emulator serves the default VM at
http://169.254.169.254 from its own process, rate limit off. In the same child, interleaved in
rounds of 10 calls so drift hits all alike:

- baseline: the built-in ``DataSourceAzure``'s IMDS fetch, the call its ``_get_data`` makes:
  ``get_metadata_from_imds`` in 22.4, ``imds.fetch_metadata_with_api_fallback`` from 23.x on
  (requests, JSON parse; nothing else);
- ``AzureImds._get_data()``: detection, fetch, normalize, the cloud-init shape;
- ``AzureImds.get_data()``: the same plus what cloud-init's base class adds to every
  datasource (``persist_instance_data``: instance-data.json), which is what cloud-init calls;
  that addition is also timed alone.

The goal (within 1.0x of the built-in's fetch) is judged on ``_get_data``, the datasource's own
work; ``get_data`` is printed beside it.

A new datasource per call, as each boot makes one. azimds's process-wide pacer (5 requests/s,
IMDS's limit) is replaced by ``Unpaced`` as in bench_client.py: one boot sends one request, and
pacing hundreds would measure the limit, not the client.

Off Azure (DMI chassis asset tag not Azure's): ``AzureImds.get_data()`` per call, the socket
operations it makes (audit events) and the packets that crossed the namespace's loopback (its
only interface, so any packet at all), and for context the built-in Azure datasource's own
off-Azure ``get_data()`` (its DMI check), printed only when it too made no socket operation.

Run: python bench/bench_cloudinit.py [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from azimds.emulator.netns import IMDS_ADDRESS as IMDS
from azimds.emulator.netns import PrivateNetwork, loopback_packets
from azimds.emulator.sandbox import NOT_AZURE_TAG, EmulatorProcess, fake_dmi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from cloud_init_packages import Unpacked, unpacked  # noqa: E402

GOAL_RATIO = 1.0
GOAL_OFF_AZURE_MS = 5.0
EMULATOR = [
    "serve",
    "--host",
    IMDS,
    "--port",
    "80",
    "--allow-address",
    "--no-rate-limit",
    "--quiet",
]


# --- the child, inside the namespace ----------------------------------------------------------


def builtin_fetch() -> Tuple[str, Callable[[], Any]]:
    """Return the name and a call of the built-in Azure datasource's IMDS fetch."""
    try:
        from cloudinit.sources.azure import imds

        def fetch() -> Any:
            return imds.fetch_metadata_with_api_fallback(retry_deadline=time.monotonic() + 300)

        return "imds.fetch_metadata_with_api_fallback", fetch
    except ImportError:
        from cloudinit.sources import DataSourceAzure as builtin

        def fetch_22() -> Any:
            return builtin.get_metadata_from_imds(retries=10, api_version=builtin.IMDS_VER_WANT)

        return "get_metadata_from_imds", fetch_22


def time_calls(cases: Dict[str, Callable[[], Any]], calls: int) -> Dict[str, List[float]]:
    """Return per-call seconds of each case, run interleaved in rounds of 10 calls."""
    timings: Dict[str, List[float]] = {name: [] for name in cases}
    for call in cases.values():  # warm up: imports, version negotiation, caches
        for _ in range(5):
            assert call(), "a benchmarked call failed"
    for _ in range(max(1, calls // 10)):
        for name, call in cases.items():
            for _ in range(10):
                started = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - started)
    return timings


def quiet_off_azure(make: Callable[[], Any], calls: int) -> Dict[str, Any]:
    """Return per-call seconds of ``make().get_data()`` off Azure, sockets used, packets sent."""
    sockets = 0
    counting = False

    def audit(event: str, args: Tuple[Any, ...]) -> None:
        nonlocal sockets
        if counting and event.startswith("socket."):
            sockets += 1

    sys.addaudithook(audit)
    timings = []
    results = set()
    packets = loopback_packets()
    for _ in range(calls):
        datasource = make()
        counting = True
        started = time.perf_counter()
        results.add(datasource.get_data())
        timings.append(time.perf_counter() - started)
        counting = False
    return {
        "seconds": timings,
        "sockets": sockets,
        "packets": loopback_packets() - packets,
        "results": sorted(results),
    }


def child(calls: int, work: Path) -> Dict[str, Any]:
    """Measure inside the namespace, writing only under ``work``; return the figures."""
    from cloudinit import distros, dmi, helpers, util, version
    from cloudinit.sources import DataSourceAzure as builtin

    import azimds.imds.client
    from azimds.cloudinit.DataSourceAzureImds import DataSourceAzureImds
    from azimds.imds.retry import EndpointPacers, Unpaced

    # The datasource's clients use the process-wide pacers: see the module docstring.
    azimds.imds.client.PROCESS_PACERS = EndpointPacers(Unpaced)  # type: ignore[attr-defined]
    paths = helpers.Paths({"cloud_dir": str(work / "cloud"), "run_dir": str(work / "run")})
    cfg = util.get_builtin_cfg()
    cfg["datasource_list"] = ["AzureImds", "None"]
    distro = distros.fetch("debian")("debian", cfg, paths)

    def ours() -> DataSourceAzureImds:
        return DataSourceAzureImds(cfg, distro, paths)

    with EmulatorProcess(EMULATOR):  # at http://169.254.169.254, in its own process
        os.environ["AZIMDS_DMI_DIR"] = str(fake_dmi(work / "dmi-azure"))
        name, fetch = builtin_fetch()
        fetched = ours()
        assert fetched._get_data()
        cases: Dict[str, Callable[[], Any]] = {
            f"built-in Azure: {name}": fetch,
            "AzureImds._get_data()": lambda: ours()._get_data(),
            "AzureImds.get_data()": lambda: ours().get_data(),
            "  of which cloud-init's persist_instance_data()": fetched.persist_instance_data,
        }
        timings = time_calls(cases, calls)
    not_azure = str(fake_dmi(work / "dmi-elsewhere", NOT_AZURE_TAG))
    os.environ["AZIMDS_DMI_DIR"] = not_azure
    dmi.DMI_SYS_PATH = not_azure  # cloud-init's own DMI reads, for the built-in datasource
    off = quiet_off_azure(ours, calls)
    builtin_off = quiet_off_azure(lambda: builtin.DataSourceAzure(cfg, distro, paths), calls)
    return {
        "cloud_init": version.version_string(),
        "emulator": f"http://{IMDS}",
        "timings": timings,
        "off_azure": off,
        "builtin_off_azure": builtin_off,
    }


# --- the parent -------------------------------------------------------------------------------


def run_child(release: Unpacked, calls: int) -> Dict[str, Any]:
    """Run the child for ``release`` inside a private network namespace; return its figures."""
    child = [sys.executable, __file__, "--child", "--calls", str(calls)]
    with PrivateNetwork(imds_address=True) as network:
        done = network.run(
            child, capture_output=True, text=True, env=release.environment(), timeout=None
        )
    if done.returncode != 0:
        raise RuntimeError(f"{release.release}: {done.stderr.strip()[-2000:]}")
    figures: Dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def ms(values: List[float]) -> str:
    return f"{statistics.median(values) * 1000:8.3f} ms"


def p90(values: List[float]) -> str:
    return f"{sorted(values)[int(len(values) * 0.9) - 1] * 1000:8.3f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(release: Unpacked, figures: Dict[str, Any], calls: int) -> bool:
    """Print one release's figures; return True when every goal is met."""
    timings = figures["timings"]
    base_name = next(iter(timings))
    base = statistics.median(timings[base_name])
    print(
        f"\ncloud-init {figures['cloud_init']} (Debian {release.release}, {release.version}), "
        f"emulator at {figures['emulator']} in a private network namespace"
    )
    print(f"{calls} calls per case, interleaved; median and p90 per call\n")
    print(f"{'case':52} {'median':>11} {'p90':>11}  {'vs built-in':>11}")
    for name, values in timings.items():
        ratio = statistics.median(values) / base
        print(f"{name:52} {ms(values)} {p90(values)}  {ratio:10.2f}x")
    ratio = statistics.median(timings["AzureImds._get_data()"]) / base
    fetch_ok = bool(ratio <= GOAL_RATIO)
    print(
        f"goal: the datasource's own work (_get_data: detect, fetch, normalize, shape) within "
        f"{GOAL_RATIO:g}x of the built-in's IMDS fetch: {ratio:.2f}x, {verdict(fetch_ok)}\n"
        "      (get_data() adds cloud-init's own instance-data.json writing, the same for "
        "every datasource)"
    )
    off = figures["off_azure"]
    off_ms = statistics.median(off["seconds"]) * 1000
    off_ok = bool(off_ms < GOAL_OFF_AZURE_MS and off["sockets"] == 0 and off["packets"] == 0)
    print(
        f"\n{'off Azure: AzureImds.get_data() -> ' + str(off['results']):52} "
        f"{ms(off['seconds'])} {p90(off['seconds'])}  socket operations {off['sockets']}, "
        f"loopback packets {off['packets']}"
    )
    builtin = figures["builtin_off_azure"]
    if builtin["sockets"] == 0 and builtin["packets"] == 0:
        label = f"  context: built-in Azure get_data() -> {builtin['results']}"
        print(f"{label:52} {ms(builtin['seconds'])} {p90(builtin['seconds'])}  (its DMI check)")
    else:
        print("  context: the built-in Azure datasource used sockets off Azure; not shown")
    print(
        f"goal: off Azure under {GOAL_OFF_AZURE_MS:g} ms and zero packets: {off_ms:.3f} ms, "
        f"{off['sockets']} socket operations, {off['packets']} packets, {verdict(off_ok)}"
    )
    return fetch_ok and off_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per case")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory(prefix="azimds-bench-cloudinit-") as work:
            print(json.dumps(child(args.calls, Path(work))))
        return 0
    releases = unpacked()
    if not releases:
        print("no cloud-init unpacked: run `python tests/cloud_init_packages.py` (make bench does)")
        return 1
    print(__doc__.splitlines()[0])
    for release in releases:
        report(release, run_child(release, args.calls), args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
