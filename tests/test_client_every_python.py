"""The shipped client modules run on every Python from 3.8 to 3.13, standard library only.

The shipped packages are copied alone into an empty directory (as they would land on a managed
host) and run with ``python -I -S`` (no site-packages, no environment, no current directory)
against an emulator this test starts on 127.0.0.1. The interpreters are found by searching
(tests/pythons.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import azimds
from azimds.emulator.pytest_plugin import EmulatorFactory
from pythons import SHIPPED_VERSIONS, python_or_skip

SCRIPT = """
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import azimds
from azimds.imds.client import Client
from azimds.imds.errors import NoSuchNode, NotOnAzure, Unavailable
from azimds.imds.identity import byte_swapped, same_machine, system_uuid
from azimds.imds.retry import RetryPolicy, Unpaced

# Every module of the shipped packages imports on this Python.
for package in ("imds", "facts"):
    for module in pkgutil.iter_modules([f"{sys.argv[1]}/azimds/{package}"]):
        importlib.import_module(f"azimds.{package}.{module.name}")

url = sys.argv[2]
client = Client(url, pacer=Unpaced(), policy=RetryPolicy(base_delay=0.05))
document = client.instance()  # answered 500 first: retried
zone = client.get("compute/zone", format="text").value  # answered 404 first: retried
try:
    client.get("compute/zone/extra")
    no_such = "answered"
except NoSuchNode as exc:
    no_such = exc.problem
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
vm_id = document.data["compute"]["vmId"]
identity = [
    same_machine(vm_id, byte_swapped(vm_id).upper()),
    same_machine(vm_id, byte_swapped(vm_id)[::-1]),
    system_uuid({"AZIMDS_DMI_DIR": "/nonexistent"}),
]
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((sys.base_prefix, sys.argv[1]))
)
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "api_version": document.api_version,
    "name": document.data["compute"]["name"],
    "zone": zone,
    "no_such": no_such,
    "off_azure": off_azure,
    "reset": reset,
    "identity": identity,
    "outside_stdlib": outside,
}))
"""


@pytest.mark.parametrize("version", SHIPPED_VERSIONS)
def test_client_modules_work_alone_on_every_python(
    imds_factory: EmulatorFactory, tmp_path: Path, version: str
) -> None:
    python = python_or_skip(version)
    package = tmp_path / "ship" / "azimds"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    source = Path(azimds.__file__).parent
    for name in azimds.SHIPPED_PACKAGES:
        shutil.copytree(source / name, package / name, ignore=shutil.ignore_patterns("*.pyc"))
    emu = imds_factory({"rate_limit": False})
    emu.add_fault({"path": "/metadata/instance", "kind": "status", "status": 500, "times": 1})
    emu.add_fault(
        {"path": "/metadata/instance/compute/zone", "kind": "status", "status": 404, "times": 1}
    )
    emu.add_fault({"path": "/metadata/versions", "kind": "reset"})
    done = subprocess.run(
        [python, "-I", "-S", "-c", SCRIPT, str(package.parent), emu.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["python"] == version
    assert report["name"] == "jubilee" and report["zone"] == "1"
    assert report["no_such"] == "compute/zone is a single value: it has no 'extra'"
    assert report["off_azure"] == "NotOnAzure"
    assert report["outside_stdlib"] == []
    assert report["identity"] == [True, False, None]  # the VM-identity rule, on this Python too
    assert len(report["reset"]) == 5 and all("reset" in seen for seen in report["reset"])
    assert [r.status for r in emu.requests[:4]] == [500, 200, 404, 200]
