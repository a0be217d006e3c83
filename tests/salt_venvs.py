"""Virtual environments with one Salt release each, for the install tests; built once, cached.

A venv holds the Salt release and azimds's own dependencies; the azimds wheel of the checkout
under test is installed into it by each test run, so the venv can be kept between runs. It
lives in ``.cache/salt-venvs/<name>`` (git-ignored) and is rebuilt when the Salt release, the
Python or azimds's dependencies change. Building one takes 35-60 s here with pip's cache warm
(Salt is published as a source distribution; pip caches the wheel it builds), longer the very
first time; they are built one after the other, which on two cores beats building in parallel.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "salt-venvs"
MARKER = ".azimds-venv.json"
BUILDER = "setuptools>=77"  # what pyproject.toml's build-system requires

# Each Salt line a minion may run: 3006 LTS, 3007, and the release the project installs.
# (The newest 3006 and 3007 releases pin a certifi this package index does not have.)
RELEASES = {"3006": "salt==3006.29", "3007": "salt==3007.16", "3008": "salt==3008.4"}


def project_dependencies() -> List[str]:
    """Return azimds's own requirements (not its extras'), as the installed project declares."""
    return [r for r in metadata.requires("azimds") or [] if "extra ==" not in r]


def venv(name: str) -> Path:
    """Return the cached venv for ``RELEASES[name]``, building it first if needed.

    Raises:
        RuntimeError: pip failed (its last lines are in the message).
    """
    folder = CACHE / name
    wanted = {
        "salt": RELEASES[name],
        "python": sys.version.split()[0],
        "dependencies": project_dependencies(),
        "builder": BUILDER,
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building it
        try:
            if json.loads((folder / MARKER).read_text())["wanted"] == wanted:
                return folder
        except (OSError, ValueError, KeyError):
            pass
        shutil.rmtree(folder, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
        # setuptools: to build the azimds wheel without fetching it; no .pyc: Salt has thousands.
        _pip(
            folder,
            "install",
            "--quiet",
            "--no-compile",
            RELEASES[name],
            *wanted["dependencies"],
            BUILDER,
        )
        built = {"wanted": wanted, "seconds": round(time.monotonic() - started, 1)}
        (folder / MARKER).write_text(json.dumps(built))
        return folder


def build_wheel(builder: Path, destination: Path) -> Path:
    """Build the azimds wheel of this checkout with the venv ``builder``; return its path.

    It is built from a copy of the sources, so nothing is written into the checkout; the copy
    follows links, as building from the checkout would.
    """
    source = destination / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _pip(
        builder,
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(destination),
        str(source),
    )
    (wheel,) = destination.glob("azimds-*.whl")
    return wheel


def install_wheel(folder: Path, wheel: Path) -> None:
    """Install (or replace) azimds from ``wheel`` in the venv ``folder``, not its dependencies."""
    _pip(folder, "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel))


def _pip(folder: Path, *args: str) -> None:
    done = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", *args, "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"pip {' '.join(args)} failed ({done.returncode}):\n{tail}")
