"""The real default endpoint, http://169.254.169.254, inside a private network namespace.

``unshare -rn`` gives the test its own network stack with nothing but a loopback interface;
169.254.169.254 is added to that loopback, the emulator listens there on port 80, and the
client runs with no endpoint at all: detection (a fake DMI directory holding Azure's asset
tag) must lead it there. No packet leaves the namespace.
"""

from __future__ import annotations

import json
import sys

import pytest

from azimds.emulator.netns import PrivateNetwork

pytestmark = pytest.mark.netns

SCRIPT = r"""
import json, os, pathlib, subprocess, sys, tempfile
from azimds.imds.client import Client
from azimds.emulator import Emulator, default_profile
from azimds.emulator.sandbox import fake_dmi

dmi = str(fake_dmi(pathlib.Path(tempfile.mkdtemp())))
env = {"AZIMDS_DMI_DIR": dmi}
with Emulator(default_profile(), host="169.254.169.254", port=80, allow_any_address=True) as emu:
    client = Client(environ=env)
    document = client.instance()
    cli = subprocess.run(
        [sys.executable, "-m", "azimds", "get", "compute/zone"],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "AZIMDS_DMI_DIR": dmi},
    )
    print(json.dumps({
        "base_url": emu.base_url,
        "endpoint": client.detection.endpoint,
        "source": client.detection.source,
        "name": document.data["compute"]["name"],
        "hosts": sorted({r.headers.get("host") for r in emu.requests}),
        "cli": [cli.returncode, cli.stdout, cli.stderr],
    }))
"""


def test_detection_leads_to_169_254_169_254_and_the_client_talks_to_it() -> None:
    with PrivateNetwork(imds_address=True) as network:
        done = network.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=90,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["base_url"] == "http://169.254.169.254"
    assert report["endpoint"] == "http://169.254.169.254"
    assert report["source"] == "dmi"
    assert report["name"] == "jubilee"
    assert report["hosts"] == ["169.254.169.254"]
    assert report["cli"] == [0, "1\n", ""]
