"""Running the ``azimds`` command in tests: in-process through ``main``, or as a process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest

import azimds.imds.client
from azimds.cli import main
from azimds.imds.client import VersionMemo
from azimds.imds.retry import EndpointPacers, Unpaced


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AZIMDS_* from outside, no DMI (so never 169.254.169.254), fresh process state."""
    for name in ("AZIMDS_ENDPOINT", "AZIMDS_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZIMDS_DMI_DIR", str(tmp_path / "no-dmi"))
    monkeypatch.setattr(azimds.imds.client, "PROCESS_PACERS", EndpointPacers(Unpaced))
    monkeypatch.setattr(azimds.imds.client, "PROCESS_VERSIONS", VersionMemo())
    yield


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    """Return (exit code, stdout, stderr) of ``azimds ARGV`` run in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def azimds_process(
    *argv: str, env: Optional[Dict[str, str]] = None, **options: object
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m azimds ARGV`` with a bare environment (no DMI: never Azure's address)."""
    environment = {"PATH": "/usr/bin:/bin", "AZIMDS_DMI_DIR": "/nonexistent"}
    environment.update(env or {})
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "azimds", *argv],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=environment,
        **options,
    )
