"""Finding Python interpreters of a given version on this machine, for the tests and the Makefile.

The shipped packages (azimds.SHIPPED_PACKAGES) must run on every version of SHIPPED_VERSIONS, and
the Ansible module on every target Python its ansible-core supports. Interpreters are found by
searching, not by a fixed path: pyenv's installed versions (``pyenv root``, ``PYENV_ROOT``,
``~/.pyenv``), then ``pythonX.Y`` on PATH and in /usr/local/bin and /usr/bin. pyenv's shims are
skipped (they fail for versions not selected), and so are virtual environments (a test needs a
plain interpreter, where azimds is not installed). A candidate counts only when it runs and
reports that version. A version that is not found is a visible skip, and a failure when the
``CI`` environment variable is set (CI must have them all).

Run as a script, it prints the first interpreter found among the versions given:
``python tests/pythons.py 3.13 3.12`` (the Makefile's ansible-latest target does).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from ci_rule import skip_or_fail

SHIPPED_VERSIONS: Tuple[str, ...] = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def _pyenv_roots() -> List[Path]:
    roots: List[Path] = []
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and done.stdout.strip():
            roots.append(Path(done.stdout.strip()))
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    roots.append(Path.home() / ".pyenv")
    return list(dict.fromkeys(roots))


def _candidates(version: str) -> Iterator[str]:
    for root in _pyenv_roots():
        for folder in sorted((root / "versions").glob(f"{version}.*"), reverse=True):
            yield str(folder / "bin" / f"python{version}")
    for directory in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/local/bin", "/usr/bin"]:
        if directory and "shims" not in Path(directory).parts:
            yield os.path.join(directory, f"python{version}")


def _in_virtualenv(python: str) -> bool:
    return (Path(python).parent.parent / "pyvenv.cfg").exists()


def version_of(python: str) -> Optional[str]:
    """Return the version ("3.12") ``python`` says it is, or None when it does not run."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def find_python(version: str) -> Optional[str]:
    """Return the path of a plain interpreter of ``version`` (e.g. "3.8"), or None."""
    for python in _candidates(version):
        usable = os.access(python, os.X_OK) and not _in_virtualenv(python)
        if usable and version_of(python) == version:
            return python
    return None


def missing(version: str) -> str:
    """Return the message for a Python version that is not on this machine."""
    return f"Python {version} is not installed here (searched pyenv, PATH, /usr/bin)"


def python_or_skip(version: str) -> str:
    """Return an interpreter of ``version``; skip the test when there is none (fail under CI)."""
    python = find_python(version)
    if python is None:
        skip_or_fail(missing(version), f"{missing(version)}; CI must provide it")
    return python


def main(versions: Sequence[str]) -> int:
    """Print the first interpreter found among ``versions``; return 0, or 1 when none is."""
    if not versions:
        print("usage: python tests/pythons.py VERSION [VERSION...]", file=sys.stderr)
        return 2
    for version in versions:
        python = find_python(version)
        if python:
            print(python)
            return 0
    print(f"none of Python {', '.join(versions)} is installed here", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
