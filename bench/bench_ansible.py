"""Ansible speed: the facts module against Ansible's own baselines, measured in the same run.

Everything runs inside a private network namespace (``unshare -rn``, loopback only), with the
emulator in this process on 127.0.0.1 (no rate limit), so fact gathering cannot reach anything
else. The managed host's Python is a plain interpreter where azimds is not installed. Cases are
interleaved in rounds so that drift hits all alike; figures are medians, of wall time and of
the CPU time of all processes a command ran.

1. ``ansible localhost -m azimds.imds.metadata_facts`` against ``-m ansible.builtin.ping``.
2. A play gathering facts with ``FACTS_MODULES=smart,azimds.imds.metadata_facts`` against
   ``smart`` alone; with two modules gather_facts runs them in parallel (async), so the same
   play with ``ansible_facts_parallel: false`` is timed too, and, as the floor for any second
   facts module, ``smart,ansible.builtin.ping`` serially.
3. Off Azure, the module's own time: the AnsiballZ payloads Ansible sent, run by the target
   Python in fresh processes, against ping's; then the module alone, timed inside fresh
   processes that compile it from source as AnsiballZ's zip import does (start-up noise
   drowns a few milliseconds in whole-process times on a shared machine).
4. Requests the emulator received per host per run, beside the requests a per-key walk (as
   ``amazon.aws.ec2_metadata_facts`` does) would need for the same document.

Run: python bench/bench_ansible.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ansible_support as support
from azimds.emulator import Emulator, netns, sandbox

MODULE = "azimds.imds.metadata_facts"
GOAL_ADHOC = 1.15
GOAL_GATHER = 1.10
GOAL_OFF_AZURE_MS = 5.0
INSIDE = "--inside-netns"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


class Sample:
    """One command's wall time and the CPU time (user + system) of it and its children."""

    def __init__(self, wall: float, cpu: float, stdout: str) -> None:
        self.wall = wall
        self.cpu = cpu
        self.stdout = stdout


def timed(argv: List[str], env: Dict[str, str], cwd: Path) -> Sample:
    """Run one command; return its Sample; raise if it failed.

    CPU time is counted as well as wall time: on a shared 2-core machine, other work stretches
    wall times unevenly, while the CPU a command needs stays put.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stdout[-2000:]}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(elapsed, cpu, done.stdout)


def per_key_walk_requests(node: Any) -> int:
    """Return the requests a per-key walk needs: one listing per object/array, one per leaf."""
    if isinstance(node, dict):
        return 1 + sum(per_key_walk_requests(value) for value in node.values())
    if isinstance(node, list):
        return 1 + sum(per_key_walk_requests(value) for value in node)
    return 1


def bench(rounds: int) -> int:
    bin_dir = Path(sys.executable).parent
    target = support.default_target_python(bin_dir)
    work = Path(tempfile.mkdtemp(prefix="azimds-bench-ansible-"))
    env = support.base_env(bin_dir, home=work / "home")
    env["AZIMDS_DMI_DIR"] = str(sandbox.fake_dmi(work / "dmi", sandbox.NOT_AZURE_TAG))
    inventory = work / "inventory.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={target}\n",
        encoding="utf-8",
    )
    with Emulator(rate_limit=False) as emu:
        endpoint = emu.base_url
        on_azure = dict(env, AZIMDS_ENDPOINT=endpoint)
        core = ".".join(map(str, support.core_version(bin_dir)))
        print(f"ansible-core {core}, target {target}, IMDS {endpoint}")

        adhoc = [str(bin_dir / "ansible"), "localhost", "-i", str(inventory), "-m"]
        adhoc_cases = {"ping": [*adhoc, "ansible.builtin.ping"], "metadata_facts": [*adhoc, MODULE]}
        play = work / "play.yml"
        play.write_text(
            json.dumps([{"hosts": "all", "gather_facts": True, "tasks": []}]), encoding="utf-8"
        )
        playbook = [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(play)]
        serial = [*playbook, "-e", "ansible_facts_parallel=false"]
        with_module = dict(on_azure, ANSIBLE_FACTS_MODULES=f"smart,{MODULE}")
        gather_cases = {
            "smart": (playbook, dict(on_azure, ANSIBLE_FACTS_MODULES="smart")),
            "smart+azure": (playbook, with_module),
            "smart+azure serial": (serial, with_module),
            # The floor for any second facts module: ping, which does nothing, in its place.
            "smart+ping serial": (
                serial,
                dict(on_azure, ANSIBLE_FACTS_MODULES="smart,ansible.builtin.ping"),
            ),
        }

        samples: Dict[str, List[Sample]] = {name: [] for name in [*adhoc_cases, *gather_cases]}
        requests_per_run: List[int] = []
        for argv in adhoc_cases.values():  # warm-up: caches, interpreter discovery
            timed(argv, on_azure, work)
        for _ in range(rounds):
            cases = [(n, a, on_azure) for n, a in adhoc_cases.items()]
            cases += [(n, a, e) for n, (a, e) in gather_cases.items()]
            for name, argv, case_env in cases:
                before = len(emu.requests)
                samples[name].append(timed(argv, case_env, work))
                if name in ("metadata_facts", "smart+azure", "smart+azure serial"):
                    requests_per_run.append(len(emu.requests) - before)
        document = _document(endpoint)

    print(f"\n1. ad-hoc, {rounds} runs each (median wall time; CPU time of all processes)")
    compare(samples, "ping", "ansible -m ansible.builtin.ping", None)
    compare(samples, "metadata_facts", f"ansible -m {MODULE}", ("ping", GOAL_ADHOC))
    print(f"\n2. a play gathering facts, {rounds} runs each")
    compare(samples, "smart", "FACTS_MODULES=smart", None)
    compare(samples, "smart+azure", f"smart,{MODULE}", ("smart", GOAL_GATHER))
    compare(
        samples,
        "smart+azure serial",
        "the same, ansible_facts_parallel=false",
        ("smart", GOAL_GATHER),
    )
    compare(
        samples,
        "smart+ping serial",
        "smart,ansible.builtin.ping, serially: the floor",
        ("smart", GOAL_GATHER),
    )

    runs = max(rounds * 4, 40)
    own, ours, ping = off_azure_own_time(bin_dir, inventory, target, env, work, runs)
    print(f"\n3. off Azure, the AnsiballZ payload run by the target Python, {runs} runs each")
    compare({"ping": ping}, "ping", "ansible.builtin.ping", None)
    compare({"ours": ours}, "ours", f"{MODULE} (sends nothing)", None)
    print(
        f"   difference: {own.wall * 1000:.1f} ms wall, {own.cpu * 1000:.1f} ms CPU "
        "(whole processes: start-up noise is larger than the difference)"
    )
    ours_alone, ping_alone = off_azure_in_process(env, work, runs)
    own_ms = (statistics.median(ours_alone) - statistics.median(ping_alone)) * 1000
    least_ms = (min(ours_alone) - min(ping_alone)) * 1000
    print("   the module alone (import from source, no bytecode cache, run to exit), median:")
    print(
        f"   {MODULE} {statistics.median(ours_alone) * 1000:.2f} ms, "
        f"ansible.builtin.ping {statistics.median(ping_alone) * 1000:.2f} ms"
    )
    print(
        f"   the module's own time off Azure: {own_ms:.2f} ms median, {least_ms:.2f} ms fastest "
        f"(goal < {GOAL_OFF_AZURE_MS:g} ms: {verdict(own_ms < GOAL_OFF_AZURE_MS)} on the median)"
    )

    walk = per_key_walk_requests(document)
    print("\n4. requests the emulator received per host per run")
    counts = ", ".join(str(n) for n in sorted(set(requests_per_run)))
    print(f"   {MODULE}: {counts} in each of {len(requests_per_run)} runs (goal 1)")
    print(f"   a per-key walk like ec2_metadata_facts' for the same document: {walk}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def median(samples: List[Sample]) -> Sample:
    """Return the median wall time and the median CPU time of ``samples``."""
    return Sample(
        statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples), ""
    )


def compare(
    samples: Dict[str, List[Sample]],
    name: str,
    label: str,
    baseline: Optional[Tuple[str, float]],
) -> None:
    """Print the medians of ``name``, and its ratios to the baseline's with the goal."""
    mine = median(samples[name])
    line = f"   {label:46s} {mine.wall * 1000:7.0f} ms wall {mine.cpu * 1000:7.0f} ms CPU"
    if baseline is None:
        print(line + ("   (baseline)" if name in ("ping", "smart") else ""))
        return
    base_name, goal = baseline
    base = median(samples[base_name])
    wall_ratio, cpu_ratio = mine.wall / base.wall, mine.cpu / base.cpu
    print(
        f"{line}   {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
        f"(goal <= {goal:g}x: {verdict(wall_ratio <= goal)} on wall time)"
    )


def _document(endpoint: str) -> Any:
    from azimds.imds.client import Client

    return Client(endpoint).instance().data


def off_azure_own_time(
    bin_dir: Path, inventory: Path, target: str, env: Dict[str, str], work: Path, runs: int
) -> Tuple[Sample, List[Sample], List[Sample]]:
    """Return (own time, module samples, ping samples), each module run as Ansible runs it.

    Ansible keeps the AnsiballZ payloads it sent (ANSIBLE_KEEP_REMOTE_FILES); the target
    Python then runs each payload in fresh processes, off Azure (nothing sent): unpacking,
    ansible's module_utils, the module, its exit. The module's own time is the difference
    of the medians.
    """
    kept = work / "kept"
    keep_env = dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TEMP=str(kept))
    payloads = {}
    for name, module in (("ping", "ansible.builtin.ping"), ("metadata_facts", MODULE)):
        adhoc = [str(bin_dir / "ansible"), "localhost", "-i", str(inventory), "-m", module]
        timed(adhoc, keep_env, work)
        (payloads[name],) = kept.glob(f"*/AnsiballZ_{name}.py")
    ours: List[Sample] = []
    ping: List[Sample] = []
    for _ in range(runs):
        ping.append(timed([target, str(payloads["ping"])], env, work))
        ours.append(timed([target, str(payloads["metadata_facts"])], env, work))
        if '"not_on_azure"' not in ours[-1].stdout:
            raise RuntimeError(f"the module did not say 'not on Azure': {ours[-1].stdout}")
    mine, base = median(ours), median(ping)
    return Sample(mine.wall - base.wall, mine.cpu - base.cpu, ""), ours, ping


# Runs one module the way AnsiballZ's loader does (ansible's basic already imported, the
# module run as __main__), timing the module alone: its import, its module_utils, its run.
IN_PROCESS_RUNNER = r"""
import sys, time, runpy
from ansible.module_utils import basic
basic._ANSIBLE_ARGS = b'{"ANSIBLE_MODULE_ARGS": {}}'
basic._ANSIBLE_PROFILE = "legacy"
started = time.perf_counter()
try:
    runpy.run_module(sys.argv[1], run_name="__main__", alter_sys=True)
except SystemExit:
    pass
sys.stderr.write("%.7f" % (time.perf_counter() - started))
"""


def off_azure_in_process(
    env: Dict[str, str], work: Path, runs: int
) -> Tuple[List[float], List[float]]:
    """Return the seconds of each run of (metadata_facts, ping), the module alone, off Azure.

    Each run is a fresh process compiling the collection's files from source with no bytecode
    cache, as AnsiballZ's zip import does; only the module's part is timed, so the figure is
    free of interpreter start-up noise.
    """
    tree = work / "collections"
    shutil.copytree(
        support.REPO / "ansible_collections",
        tree / "ansible_collections",
        ignore=shutil.ignore_patterns("__pycache__", "tests"),
    )
    run_env = dict(env, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    modules = {
        "metadata_facts": "ansible_collections.azimds.imds.plugins.modules.metadata_facts",
        "ping": "ansible.modules.ping",
    }
    seconds: Dict[str, List[float]] = {name: [] for name in modules}
    for _ in range(runs):
        for name, module in modules.items():
            done = subprocess.run(
                [sys.executable, "-B", "-c", IN_PROCESS_RUNNER, module],
                env=run_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if name == "metadata_facts" and '"not_on_azure"' not in done.stdout:
                raise RuntimeError(f"the module did not say 'not on Azure': {done.stdout}")
            seconds[name].append(float(done.stderr.strip().splitlines()[-1]))
    return seconds["metadata_facts"], seconds["ping"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(INSIDE, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_netns:
        return bench(args.rounds)
    why_not = netns.available()
    if why_not is not None:
        print(f"SKIPPED: this benchmark runs inside a private network namespace, and {why_not}")
        return 0
    with netns.PrivateNetwork() as network:
        itself = [sys.executable, str(Path(__file__).resolve()), "--rounds", str(args.rounds)]
        return network.run([*itself, INSIDE], timeout=None).returncode


if __name__ == "__main__":
    sys.exit(main())
