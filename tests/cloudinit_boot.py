"""A real ``cloud-init init`` boot against the emulator at 169.254.169.254, sealed off.

Run as ``unshare -rnmu python tests/cloudinit_boot.py SCENARIO.json`` (the tests do): private
user, network, mount and host-name namespaces. Before cloud-init runs, this script seals the
namespace so that cloud-init can change nothing on the machine:

- network: only this namespace's loopback, with 169.254.169.254 added to it; a fresh sysfs, so
  cloud-init sees no network device but ``lo`` (and no DMI data of the machine);
- the places cloud-init writes are private: tmpfs over /run, /var and /tmp, and a private copy
  of /etc bound over /etc; /dev/console and /dev/kmsg are /dev/null;
- every other mount is remounted read-only (/, /proc, /dev, /sys, ...): a write anywhere else
  fails with "Read-only file system" instead of reaching the machine.

Then it installs cloud-init's own Debian configuration (the package's /etc/cloud), azimds's
cloud.cfg.d snippet and the scenario's settings (module lists empty), starts the emulator at
http://169.254.169.254 with the scenario's profile and faults, and boots: ``cloud-init init
--local``, ``cloud-init init``, then ``cloud-init query`` as a user would. It prints one JSON
report: the commands' results, the emulator's requests, the packets that crossed loopback,
cloud-init's log, the rendered user-data script and every path cloud-init wrote (all inside
the private places; the test compares the machine's own paths before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from azimds.cloudinit import SNIPPET_NAME, snippet
from azimds.emulator import Emulator, profile_from_mapping
from azimds.emulator.netns import IMDS_ADDRESS, loopback_packets
from azimds.emulator.sandbox import fake_dmi

PRIVATE = ("/run", "/var", "/tmp", "/etc")  # where cloud-init may write, all private here
NULLED = ("/dev/console", "/dev/kmsg")
STAGING = Path("/run/azimds")
VAR_LINKS = {"run": "/run", "lock": "/run/lock"}
VAR_DIRS = ("lib", "log", "tmp", "cache", "spool", "local", "opt", "mail", "backups")

Entry = Tuple[str, int, str]  # kind, size, sha256 (files) or target (links)


def run(command: List[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a setup command that must succeed."""
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


def seal(work: Path) -> Tuple[Path, List[str]]:
    """Make the namespace safe for cloud-init.

    Returns where ``work`` is reachable afterwards, and the paths of /etc that could not be
    copied (unreadable here: owned by users this namespace does not map).
    """
    run(["ip", "link", "set", "lo", "up"])
    run(["ip", "addr", "add", f"{IMDS_ADDRESS}/32", "dev", "lo"])
    run(["mount", "-t", "sysfs", "sysfs", "/sys"])  # this namespace's devices only: lo
    run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"])
    (STAGING / "etc").mkdir(parents=True)
    (STAGING / "work").mkdir()
    unreadable = copy_tree("/etc", STAGING / "etc")
    drop_group(STAGING / "etc" / "group", "adm")
    run(["mount", "--bind", str(STAGING / "etc"), "/etc"])
    run(["mount", "--bind", str(work), str(STAGING / "work")])  # /tmp is covered next
    held = hold(needed_paths())
    run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp"])
    run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/var"])
    restore(held)
    for name in VAR_DIRS:
        Path("/var", name).mkdir()
    for name, target in VAR_LINKS.items():
        Path("/var", name).symlink_to(target)
    Path("/run/lock").mkdir()
    for device in NULLED:
        if os.path.exists(device):
            run(["mount", "--bind", "/dev/null", device])
    writable = {*PRIVATE, str(STAGING / "work"), *NULLED}  # held paths are made read-only
    for point in mount_points():
        if point not in writable:
            subprocess.run(["mount", "-o", "remount,bind,ro", point], capture_output=True)
    return STAGING / "work", unreadable


def needed_paths() -> List[Path]:
    """Return what this script needs after sealing: the checkout (tests, src, the unpacked
    cloud-init under .cache) and the Python environment it runs in."""
    return [Path(__file__).resolve().parents[1], Path(sys.prefix).resolve()]


def hold(paths: List[Path]) -> List[Tuple[Path, Path]]:
    """Bind each of ``paths`` that the tmpfs over /tmp or /var would hide into STAGING.

    A checkout may live under /tmp (a CI clone, say). Returns (original, held) pairs for
    ``restore``; paths inside another held path are held with it.
    """
    hidden = sorted(p for p in paths if p.parts[:2] in (("/", "tmp"), ("/", "var")))
    outermost = [p for p in hidden if not any(o != p and o in p.parents for o in hidden)]
    held = []
    for index, original in enumerate(dict.fromkeys(outermost)):
        place = STAGING / "held" / str(index)
        place.mkdir(parents=True)
        run(["mount", "--bind", str(original), str(place)])
        held.append((original, place))
    return held


def restore(held: List[Tuple[Path, Path]]) -> None:
    """Bind each held path back at its own place, now inside the private tmpfs."""
    for original, place in held:
        original.mkdir(parents=True, exist_ok=True)  # in the namespace's tmpfs, not the disk
        run(["mount", "--bind", str(place), str(original)])


def drop_group(group_file: Path, name: str) -> None:
    """Remove group ``name`` from a private /etc/group.

    cloud-init switches its output logger to group adm when there is one; this namespace maps
    root alone, so that switch would fail (EINVAL) where on a VM it works.
    """
    lines = group_file.read_text(encoding="utf-8").splitlines(keepends=True)
    group_file.write_text("".join(x for x in lines if not x.startswith(f"{name}:")), "utf-8")


def copy_tree(source: str, target: Path) -> List[str]:
    """Copy ``source`` into ``target`` (symlinks as links); return what could not be read."""
    try:
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    except shutil.Error as exc:
        return sorted({str(failure[0]) for failure in exc.args[0]})
    return []


def mount_points() -> List[str]:
    """Return the mount points visible in this namespace."""
    lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    return sorted({line.split()[4] for line in lines})


def read_only_mounts() -> List[str]:
    """Return the mount points that are read-only now."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if "ro" in fields[5].split(","):
            found.append(fields[4])
    return sorted(set(found))


def listing(roots: Tuple[str, ...]) -> Dict[str, Entry]:
    """Return every path under ``roots`` with its kind, size and content hash."""
    entries: Dict[str, Entry] = {}
    for path in walk(roots):
        if path.is_symlink():
            entries[str(path)] = ("link", 0, os.readlink(path))
        elif path.is_dir():
            entries[str(path)] = ("dir", 0, "")
        elif path.is_file():
            data = path.read_bytes()
            entries[str(path)] = ("file", len(data), hashlib.sha256(data).hexdigest())
        else:
            entries[str(path)] = ("other", 0, "")
    return entries


def walk(roots: Tuple[str, ...]) -> Iterator[Path]:
    """Yield every path under ``roots``, but not inside STAGING nor inside a mount below a
    root (the held checkout: read-only, so nothing can be written there)."""
    for root in roots:
        for folder, dirs, files in os.walk(root):
            if folder.startswith(str(STAGING)) or (folder != root and os.path.ismount(folder)):
                dirs[:] = []
                continue
            for name in dirs + files:
                yield Path(folder, name)


def install_config(release_root: Path, scenario: Dict[str, Any]) -> None:
    """Put cloud-init's Debian configuration, azimds's snippet and the test's settings in /etc."""
    shutil.copytree(release_root / "etc" / "cloud", "/etc/cloud", dirs_exist_ok=True)
    (Path("/etc/cloud/cloud.cfg.d") / SNIPPET_NAME).write_text(snippet(), encoding="utf-8")
    (Path("/etc/cloud/cloud.cfg.d") / "99_azimds_test.cfg").write_text(
        scenario["test_cfg"], encoding="utf-8"
    )


def cloud_init(args: List[str], env: Dict[str, str]) -> Dict[str, Any]:
    """Run ``cloud-init ARGS`` (the unpacked package's code); return its result."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cloudinit.cmd.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return {
        "args": args,
        "returncode": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "seconds": round(time.monotonic() - started, 2),
    }


def read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def main() -> int:
    scenario = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    release_root = Path(scenario["release_root"])
    work, unreadable = seal(Path(scenario["work"]))
    dmi = fake_dmi(work / "dmi", **scenario["dmi"])
    install_config(release_root, scenario)
    before = listing(PRIVATE)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(release_root / "usr/lib/python3/dist-packages"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AZIMDS_DMI_DIR": str(dmi),
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }
    profile = profile_from_mapping(scenario.get("profile") or {}, source="<scenario>")
    with Emulator(
        profile, host=IMDS_ADDRESS, port=80, allow_any_address=True, rate_limit=False
    ) as emu:
        for fault in scenario.get("faults", []):
            emu.add_fault(fault)
        packets = loopback_packets()
        commands = [cloud_init(["init", "--local"], env), cloud_init(["init"], env)]
        boot_packets = loopback_packets() - packets
        requests = [{"path": r.path, "query": r.query, "status": r.status} for r in emu.requests]
    for query in scenario.get("queries", []):
        commands.append(cloud_init(["query", *query], env))
    after = listing(PRIVATE)
    read_only = read_only_mounts()
    written = sorted(p for p, entry in after.items() if before.get(p) != entry)
    removed = sorted(p for p in before if p not in after)
    report = {
        "commands": commands,
        "requests": requests,
        "boot_packets": boot_packets,
        "log": read("/var/log/cloud-init.log") or "",
        "output_log": read("/var/log/cloud-init-output.log") or "",
        "script": read("/var/lib/cloud/instance/scripts/part-001"),
        "instance_id_file": read("/var/lib/cloud/data/instance-id"),
        "written": written,
        "removed": removed,
        "etc_not_copied": unreadable,
        "read_only": read_only,
        "writable": [p for p in mount_points() if p not in read_only and os.path.ismount(p)],
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
