"""Debian's cloud-init packages, unpacked into a git-ignored cache for the tests and benchmarks.

Run as a script (``make test`` and ``make bench`` do): for each Debian release below, download
its cloud-init package with ``apt-get download`` through a private apt state (its own sources
file, lists and cache under the cache folder: the machine's apt configuration and lists are
neither read for packages nor changed) and unpack it with ``dpkg -x``. Nothing is installed.
A release already unpacked is not fetched again; ``--refresh`` fetches anew.

Without apt-get or dpkg (not a Debian machine) the script says so and exits 0, and the cloud-init
tests skip visibly; when the environment variable ``CI`` is set that is a failure instead.

Imported as a module, ``unpacked()`` lists what the cache holds, for the tests and benchmarks;
``--newest`` prints the folder the newest one imports from (for ``make demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "cloud-init"
DIST_PACKAGES = Path("usr/lib/python3/dist-packages")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SYSTEM_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
FALLBACK_URI = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class Release:
    """A Debian release whose cloud-init the tests run.

    ``required``: CI fails when it cannot be fetched. sid (unstable) moves and now and then
    loses packages, so it is tested whenever it can be had, but its absence is only reported.
    """

    name: str
    debian: str
    required: bool


RELEASES = (
    Release("bookworm", "Debian 12", True),
    Release("trixie", "Debian 13", True),
    Release("sid", "Debian unstable", False),
)


@dataclass(frozen=True)
class Unpacked:
    """One unpacked cloud-init: its release, package version and the folder to import it from."""

    release: str
    version: str
    root: Path

    @property
    def python_path(self) -> Path:
        """Return the folder holding the ``cloudinit`` package."""
        return self.root / DIST_PACKAGES

    @property
    def upstream(self) -> str:
        """Return the upstream version, e.g. ``22.4.2`` for ``22.4.2-1+deb12u4``."""
        return self.version.split("-")[0]

    def environment(self) -> Dict[str, str]:
        """Return the environment for a process running this cloud-init (no AZIMDS_* in it)."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(self.python_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/root"),
        }


def unpacked(cache: Path = CACHE) -> List[Unpacked]:
    """Return the cloud-init releases the cache holds, oldest release first."""
    found = []
    for release in RELEASES:
        record = cache / release.name / "release.json"
        if record.is_file():
            data = json.loads(record.read_text(encoding="utf-8"))
            found.append(Unpacked(release.name, data["version"], cache / release.name / "root"))
    return found


def missing_required(cache: Path = CACHE) -> List[str]:
    """Return the names of required releases the cache lacks."""
    have = {u.release for u in unpacked(cache)}
    return [r.name for r in RELEASES if r.required and r.name not in have]


def system_uri() -> str:
    """Return the Debian archive URI this machine's apt sources use (not the security one)."""
    texts = []
    for source in SYSTEM_SOURCES:
        files = sorted(source.glob("*")) if source.is_dir() else [source]
        texts += [f.read_text(encoding="utf-8", errors="replace") for f in files if f.is_file()]
    for text in texts:
        for match in re.finditer(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            uri = match.group(1)
            if "security" not in uri and "debian" in uri:
                return uri
    return FALLBACK_URI


def fetch(release: Release, cache: Path, uri: str) -> Unpacked:
    """Download and unpack ``release``'s cloud-init into ``cache/<release>``; return it.

    Raises:
        RuntimeError: apt-get or dpkg failed; the message holds their last lines.
    """
    folder = cache / release.name
    state = Path(tempfile.mkdtemp(prefix=f"apt-{release.name}-", dir=cache))
    try:
        parts = state / "sources.list.d"
        (state / "lists" / "partial").mkdir(parents=True)
        (state / "archives" / "partial").mkdir(parents=True)
        parts.mkdir()
        signed = f"Signed-By: {KEYRING}\n" if KEYRING.exists() else ""
        (parts / f"{release.name}.sources").write_text(
            f"Types: deb\nURIs: {uri}\nSuites: {release.name}\nComponents: main\n{signed}",
            encoding="utf-8",
        )
        options = [
            "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={parts}",
            "-o", f"Dir::State::Lists={state / 'lists'}",
            "-o", f"Dir::Cache={state}",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=root",
        ]  # fmt: skip
        _run(["apt-get", "-q", *options, "update"], state)
        _run(["apt-get", "-q", *options, "download", "cloud-init"], state)
        debs = sorted(state.glob("cloud-init_*.deb"))
        if not debs:
            raise RuntimeError(f"{release.name}: apt-get download left no cloud-init package")
        version = _run(["dpkg-deb", "-f", str(debs[0]), "Version"], state).strip()
        if folder.exists():
            shutil.rmtree(folder)
        root = folder / "root"
        root.mkdir(parents=True)
        _run(["dpkg", "-x", str(debs[0]), str(root)], state)
        record = {"release": release.name, "version": version, "deb": debs[0].name}
        (folder / "release.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
        return Unpacked(release.name, version, root)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _run(command: List[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"{' '.join(command[:2])} ... {command[-1]} failed: {tail}")
    return done.stdout


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE, help="where to unpack")
    parser.add_argument("--refresh", action="store_true", help="fetch even what is there")
    parser.add_argument(
        "--newest", action="store_true", help="only print where the newest one imports from"
    )
    args = parser.parse_args(argv)
    if args.newest:
        found = unpacked(args.cache)
        print(found[-1].python_path if found else "")
        return 0
    ci = bool(os.environ.get("CI"))
    have = {u.release: u for u in unpacked(args.cache)}
    wanted = [r for r in RELEASES if args.refresh or r.name not in have]
    if not wanted:
        listed = ", ".join(f"{u.release} {u.version}" for u in have.values())
        print(f"cloud-init packages: cached ({listed})")
        return 0
    tools = [tool for tool in ("apt-get", "dpkg", "dpkg-deb") if shutil.which(tool) is None]
    if tools:
        print(
            f"cloud-init packages: SKIPPED, {' and '.join(tools)} not found (not a Debian "
            "machine?): the cloud-init tests will be skipped",
            file=sys.stderr,
        )
        return 1 if ci else 0
    args.cache.mkdir(parents=True, exist_ok=True)
    uri = system_uri()
    failed_required = False
    for release in wanted:
        try:
            got = fetch(release, args.cache, uri)
        except (RuntimeError, OSError) as exc:
            print(f"cloud-init packages: {release.name}: {exc}", file=sys.stderr)
            failed_required |= release.required
            continue
        print(f"cloud-init packages: {release.debian} ({release.name}) cloud-init {got.version}")
    if failed_required:
        print(
            "cloud-init packages: a required release could not be fetched; the cloud-init "
            f"tests for it will be {'failing (CI is set)' if ci else 'skipped'}",
            file=sys.stderr,
        )
        return 1 if ci else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
