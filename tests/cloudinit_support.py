"""Running Debian's real cloud-init against the emulator, for the cloud-init tests.

The packages are unpacked by ``tests/cloud_init_packages.py`` (``make test`` runs it first).
Each cloud-init runs in its own process (two versions cannot share one), always inside a
private network namespace (``unshare -rn``; ``-rnmu`` for a whole boot) where the emulator
answers at 169.254.169.254: nothing can reach the machine's network.

Without the packages or namespaces the tests skip, visibly; when ``CI`` is set they fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from azimds.emulator import netns
from azimds.emulator.sandbox import NOT_AZURE_TAG
from azimds.imds.detect import AZURE_CHASSIS_ASSET_TAG
from ci_rule import skip_or_fail
from cloud_init_packages import Unpacked, missing_required, unpacked

TESTS = Path(__file__).resolve().parent
PROBE = TESTS / "cloudinit_probe.py"
BOOT = TESTS / "cloudinit_boot.py"
# A scenario's "dmi": the DMI files written for it (as azimds.emulator.sandbox.fake_dmi does).
ON_AZURE = {"chassis_asset_tag": AZURE_CHASSIS_ASSET_TAG}
OFF_AZURE = {"chassis_asset_tag": NOT_AZURE_TAG}
IMDS = netns.IMDS_ADDRESS
RELEASES = unpacked()
RELEASE_IDS = [f"cloud-init-{r.upstream}" for r in RELEASES]


def unavailable() -> Optional[str]:
    """Return why the cloud-init tests cannot run here, or None when they can."""
    missing = missing_required()
    if missing:
        return (
            f"Debian's cloud-init for {', '.join(missing)} is not unpacked: run "
            "`python tests/cloud_init_packages.py` (make test does)"
        )
    why = netns.available()
    if why is not None:
        return why
    if shutil.which("mount") is None:
        return "mount is not installed"
    probe = subprocess.run(["unshare", "-rnmu", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare -rnmu is not permitted: {probe.stderr.decode(errors='replace').strip()}"
    return None


def require() -> None:
    """Skip the calling test when cloud-init cannot run here; fail instead when CI is set."""
    reason = unavailable()
    if reason is not None:
        skip_or_fail(reason, f"CI must run the cloud-init tests: {reason}")


def probe(release: Unpacked, scenarios: Dict[str, Dict[str, Any]], work: Path) -> Dict[str, Any]:
    """Run ``scenarios`` (name -> scenario) through cloudinit_probe.py in one namespace.

    Each scenario gets its own folder under ``work`` and its own emulator. Returns name ->
    the probe's report.
    """
    batch = []
    for name, scenario in scenarios.items():
        folder = work / name
        folder.mkdir(parents=True)
        batch.append({"name": name, "work": str(folder), **scenario})
    (work / "scenarios.json").write_text(json.dumps(batch), encoding="utf-8")
    with netns.PrivateNetwork(imds_address=True) as network:
        done = network.run(
            [sys.executable, str(PROBE), str(work / "scenarios.json")],
            capture_output=True,
            text=True,
            timeout=600,
            env=release.environment(),
        )
    assert done.returncode == 0, done.stderr[-4000:]
    reports: Dict[str, Any] = json.loads(done.stdout)
    return reports


def boot(release: Unpacked, scenario: Dict[str, Any], work: Path) -> Dict[str, Any]:
    """Boot ``release``'s cloud-init (init --local, init, queries) sealed off; return the report.

    See cloudinit_boot.py for what the namespace covers.
    """
    work.mkdir(parents=True, exist_ok=True)
    path = work / "scenario.json"
    path.write_text(
        json.dumps({"work": str(work), "release_root": str(release.root), **scenario}), "utf-8"
    )
    done = subprocess.run(
        ["unshare", "-rnmu", sys.executable, str(BOOT), str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=release.environment(),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: Dict[str, Any] = json.loads(done.stdout)
    return report


def log_lines(report: Dict[str, Any], needle: str) -> List[str]:
    """Return the log lines of a report that contain ``needle``."""
    return [line for line in report["log"] if needle in line]
