"""The azure_imds inventory plugin: real ansible-inventory runs, each beside its baseline.

1. ``ansible-inventory --list`` for N hosts (default 10,000) from a jsonfile fact cache holding
   the ``azure_imds`` facts (written through Ansible's cache plugin API, in the form
   metadata_facts leaves), against the same hosts, host variables and groups given as a
   static YAML inventory: the plugin's own listing written back as YAML, IMDS strings as
   ``!unsafe`` as the listing marks them. The two listings are checked to be equal. Wall time,
   CPU time and peak memory (max RSS) of each process; ``ansible-inventory`` on an empty
   inventory shows Ansible's own start-up.
2. The endpoints source for a 1,000-VM fleet served by ``azimds emulator fleet``, beside 1,000
   sequential fetches by the same client (the core's ``Client``, in-process, one per VM).

Run: python bench/bench_inventory.py [--hosts 10000] [--fleet 1000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ansible_support as support
from azimds.emulator.fleet import generate_fleet
from azimds.emulator.sandbox import EmulatorProcess
from azimds.imds import versions
from azimds.imds.client import Client, VersionMemo
from azimds.imds.retry import Pacer

REPO = support.REPO
BIN = Path(sys.executable).parent
PLUGIN = "azimds.imds.azure_imds"
GOAL_RATIO = 1.2
GOAL_FLEET_SECONDS = 10.0


@dataclass
class Measured:
    """One process: wall seconds, CPU seconds (user + system) and peak RSS in MiB."""

    wall: float
    cpu: float
    rss_mib: float

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s wall, {self.cpu:6.1f} s CPU, peak {self.rss_mib:6.0f} MiB"


def environment(home: Path, extra: Mapping[str, str]) -> Dict[str, str]:
    """Return the tests' clean environment for Ansible commands (own HOME), plus ``extra``."""
    env = support.base_env(BIN, home=home)
    env.update(extra)
    return env


def measure(argv: List[str], env: Mapping[str, str], cwd: Path) -> Measured:
    """Run ``argv`` to completion; return its wall time, CPU time and peak RSS (own rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise RuntimeError(f"{argv[0]} failed: {process.stderr.read().decode()[-2000:]}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def list_inventory(source: Path, output: Path, env: Mapping[str, str]) -> Measured:
    argv = [str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--output", str(output)]
    return measure(argv, env, source.parent)


# -- 1. fact cache vs static YAML ---------------------------------------------------------


def write_fact_cache(folder: Path, hosts: int) -> None:
    """Write ``hosts`` VMs' azure_imds facts into a jsonfile fact cache, via the cache API."""
    # Imported by name: ansible-core has no type information, and the collection is not
    # part of the type-checked tree.
    loader = importlib.import_module("ansible.plugins.loader")
    loader.init_plugin_loader([str(REPO)])
    shaping = importlib.import_module(
        "ansible_collections.azimds.imds.plugins.plugin_utils.inventory_hosts"
    )

    spec = {
        "count": hosts,
        "seed": 5,
        "zones": ["1", "2", "3", ""],
        "tags": {"Environment": ["prod", "dev"], "Role": ["web", "db", "cache"]},
        "scale_sets": {"count": 8, "share": 0.3},
    }
    cache = loader.cache_loader.get("ansible.builtin.jsonfile", _uri=str(folder), _timeout=0)
    for profile in generate_fleet(spec):
        document = versions.document_at(profile.instance, versions.NEWEST)
        facts = shaping.document_facts(document, versions.NEWEST, "http://127.0.0.1:8169")
        cache.set(profile.name, {"azure_imds": facts})


class Unsafe(str):
    """A string the static inventory marks ``!unsafe``, as ansible-inventory marked it."""


yaml.add_representer(
    Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)), yaml.CSafeDumper
)


def unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return Unsafe(value["__ansible_unsafe"])
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def write_static(listing: Mapping[str, Any], path: Path) -> None:
    """Write a listing as a static YAML inventory: every host's variables, every group."""
    children = {
        name: {"hosts": {host: None for host in body.get("hosts", [])}}
        for name, body in listing.items()
        if name not in ("_meta", "all", "ungrouped")
    }
    hosts = unwrap(listing["_meta"]["hostvars"])
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(
            {"all": {"hosts": hosts, "children": children}},
            handle,
            Dumper=yaml.CSafeDumper,
            allow_unicode=True,
            sort_keys=False,
        )


def normalized(listing: Dict[str, Any]) -> Dict[str, Any]:
    """Return a listing with group and host lists sorted (their order carries no meaning)."""
    for body in listing.values():
        for key in ("children", "hosts"):
            if isinstance(body, dict) and key in body:
                body[key] = sorted(body[key])
    return listing


def helper(*args: str) -> str:
    """Run this script's helper mode in a child process; return what it printed.

    The heavy preparation runs in children so that this process stays small: a child started
    from it inherits its peak memory, which would then show in every measured peak.
    """
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def bench_fact_cache(workdir: Path, hosts: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    cache = workdir / "facts"
    started = time.perf_counter()
    helper("--write-cache", str(cache), str(hosts))
    print(f"(fact cache of {hosts} hosts written in {time.perf_counter() - started:.0f} s)")
    env = environment(
        workdir / "home",
        {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)},
    )
    config = workdir / "fleet.azure_imds.yml"
    config.write_text(f"plugin: {PLUGIN}\n", "utf-8")
    empty = workdir / "empty.yml"
    empty.write_text("all: {}\n", "utf-8")
    startup = list_inventory(empty, workdir / "empty.json", env)
    plugin = list_inventory(config, workdir / "plugin.json", env)
    static_path = workdir / "static.yml"
    groups = helper("--write-static", str(workdir / "plugin.json"), str(static_path), str(hosts))
    static = list_inventory(static_path, workdir / "static.json", env)
    same = helper("--compare", str(workdir / "plugin.json"), str(workdir / "static.json"))
    ratio = plugin.wall / static.wall
    print(f"ansible-inventory --list, {hosts} hosts, {groups} groups:")
    print(f"  azure_imds from the jsonfile fact cache   {plugin}")
    print(f"  static YAML inventory (baseline)          {static}")
    print(f"  an empty inventory (Ansible's start-up)   {startup}")
    print(
        f"  plugin / static: {ratio:.2f}x wall, {plugin.cpu / static.cpu:.2f}x CPU "
        f"(goal within {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'NOT met'}); "
        f"same hosts, variables and groups: {same}"
    )


def helper_mode(args: List[str]) -> int:
    """The children's work: write the fact cache, write the static YAML, compare listings."""
    if args[0] == "--write-cache":
        write_fact_cache(Path(args[1]), int(args[2]))
    elif args[0] == "--write-static":
        listing = json.loads(Path(args[1]).read_text("utf-8"))
        assert len(listing["_meta"]["hostvars"]) == int(args[3]), "hosts missing"
        write_static(listing, Path(args[2]))
        print(len(listing) - 2)  # groups, less _meta and all
    else:
        first, second = (json.loads(Path(p).read_text("utf-8")) for p in args[1:3])
        print("yes" if normalized(first) == normalized(second) else "NO")
    return 0


# -- 2. endpoints for an emulated fleet ---------------------------------------------------------


def fleet(workdir: Path, count: int) -> EmulatorProcess:
    """Return ``azimds emulator fleet`` for ``count`` VMs, writing its manifest in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workdir / "fleet.yaml"
    spec.write_text(yaml.safe_dump({"count": count, "seed": 9}), "utf-8")
    manifest = workdir / "azimds-fleet.json"
    return EmulatorProcess(["fleet", str(spec), "--manifest", str(manifest), "--quiet"])


def bench_endpoints(workdir: Path, count: int) -> None:
    with fleet(workdir, count) as server:
        config = workdir / "endpoints.azure_imds.yml"
        config.write_text(
            f"plugin: {PLUGIN}\nsource: endpoints\nendpoints: [azimds-fleet.json]\n", "utf-8"
        )
        env = environment(workdir / "home", {})
        plugin = list_inventory(config, workdir / "endpoints.json", env)
        listing = json.loads((workdir / "endpoints.json").read_text("utf-8"))
        assert len(listing["_meta"]["hostvars"]) == count
        memo = VersionMemo()
        started = time.perf_counter()
        for vm in server.vms:
            Client(vm["base_url"], pacer=Pacer(), versions_memo=memo).instance()
        sequential = time.perf_counter() - started
    verdict = "met" if plugin.wall < GOAL_FLEET_SECONDS else "NOT met"
    print(f"endpoints source, {count} emulated VMs (azimds emulator fleet):")
    print(f"  ansible-inventory --list                  {plugin} (goal < 10 s: {verdict})")
    print(f"  {count} sequential fetches, same client      {sequential:6.1f} s (in-process)")


def main() -> int:
    if sys.argv[1:2] and sys.argv[1] in ("--write-cache", "--write-static", "--compare"):
        return helper_mode(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10000, help="fact cache hosts")
    parser.add_argument("--fleet", type=int, default=1000, help="emulated VMs for endpoints")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="azimds-bench-inventory-"))
    try:
        bench_fact_cache(workdir / "cache", args.hosts)
        bench_endpoints(workdir / "endpoints", args.fleet)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
