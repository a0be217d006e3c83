"""The Python interpreters the shipped packages (azimds.SHIPPED_PACKAGES) must run on.

They are found by searching, not by a fixed path: pyenv's installed versions (``pyenv root``,
else ``PYENV_ROOT``, else ``~/.pyenv``), then ``pythonX.Y`` on PATH. A candidate counts only
when it runs and reports that version. A version that is not found is a visible skip, and a
failure when the ``CI`` environment variable is set (CI must have them all).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

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
            yield str(folder / "bin" / "python")
    on_path = shutil.which(f"python{version}")
    if on_path is not None:
        yield on_path


def _reports(python: str, version: str) -> bool:
    """Return True when ``python`` runs and says it is ``version``."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


@functools.lru_cache(maxsize=None)
def find_python(version: str) -> Optional[str]:
    """Return the path of an interpreter of ``version`` (e.g. "3.8"), or None."""
    return next((path for path in _candidates(version) if _reports(path, version)), None)


def python_or_skip(version: str) -> str:
    """Return an interpreter of ``version``; skip the test when there is none (fail under CI)."""
    python = find_python(version)
    if python is None:
        message = f"no Python {version} found (searched pyenv versions and PATH)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide every version in {SHIPPED_VERSIONS}")
        pytest.skip(message)
    return python
