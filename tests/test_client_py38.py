"""The shipped client modules run on the oldest Python 3.8+ here, with the standard library only.

The modules are copied alone into an empty directory (as they would land on an Ansible target)
and run with ``python3.8 -I`` (no site-packages, no environment, no current directory) against
an emulator this test starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import azimds
from azimds.emulator.pytest_plugin import EmulatorFactory

PYTHON38 = "/root/.pyenv/versions/3.8.18/bin/python"

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from azimds.imds.client import Client
from azimds.imds.errors import NotOnAzure, Unavailable
from azimds.imds.retry import RetryPolicy, Unpaced

url = sys.argv[2]
client = Client(url, pacer=Unpaced(), policy=RetryPolicy(base_delay=0.05))
document = client.instance()  # answered 500 first: retried
zone = client.get("compute/zone", format="text").value  # answered 404 first: retried
try:
    Client(environ={"AZIMDS_DMI_DIR": "/nonexistent"}).instance()
    off_azure = "answered"
except NotOnAzure:
    off_azure = "NotOnAzure"
try:
    Client(url, pacer=Unpaced(), policy=RetryPolicy(base_delay=0.05)).versions()  # resets
    reset = "answered"
except Unavailable as exc:
    reset = [attempt.outcome for attempt in exc.attempts]
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((sys.base_prefix, sys.argv[1]))
)
print(json.dumps({
    "python": list(sys.version_info[:2]),
    "api_version": document.api_version,
    "name": document.data["compute"]["name"],
    "zone": zone,
    "off_azure": off_azure,
    "reset": reset,
    "outside_stdlib": outside,
}))
"""


@pytest.mark.skipif(not os.path.exists(PYTHON38), reason=f"{PYTHON38} is not installed")
def test_client_modules_work_alone_on_python_38(
    imds_factory: EmulatorFactory, tmp_path: Path
) -> None:
    package = tmp_path / "ship" / "azimds"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    source = Path(azimds.__file__).parent
    for name in azimds.SHIPPED_PACKAGES:
        shutil.copytree(source / name, package / name)
    emu = imds_factory({"rate_limit": False})
    emu.add_fault({"path": "/metadata/instance", "kind": "status", "status": 500, "times": 1})
    emu.add_fault(
        {"path": "/metadata/instance/compute", "kind": "status", "status": 404, "times": 1}
    )
    emu.add_fault({"path": "/metadata/versions", "kind": "reset"})
    done = subprocess.run(
        [PYTHON38, "-I", "-c", SCRIPT, str(package.parent), emu.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["python"] == [3, 8]
    assert report["name"] == "jubilee" and report["zone"] == "1"
    assert report["off_azure"] == "NotOnAzure"
    assert report["outside_stdlib"] == []
    assert len(report["reset"]) == 5 and all("reset" in seen for seen in report["reset"])
    assert [r.status for r in emu.requests[:4]] == [500, 200, 404, 200]
