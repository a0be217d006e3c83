"""The emulator at the real IMDS address, 169.254.169.254:80, inside a private network namespace.

NETWORK RULE: nothing is ever sent to 169.254.169.254 or any non-loopback address from the
test process. The emulator and the curl both run inside a private network (``unshare -rn``,
``azimds.emulator.netns``), which has only its own loopback.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

import azimds
from azimds.emulator.binding import BindRefused
from azimds.emulator.netns import PrivateNetwork
from azimds.emulator.profile import profile_from_mapping
from azimds.emulator.server import Emulator
from ci_rule import skip_or_fail
from emulator_support import no_proxy_env

SERVE = textwrap.dedent(
    """
    import time
    from azimds.emulator import Emulator
    with Emulator(host="169.254.169.254", port=80, allow_any_address=True) as emulator:
        print(emulator.base_url, flush=True)
        time.sleep(60)  # closing the private network stops it long before
    """
)


def needs_curl() -> None:
    """Skip the calling test where curl is missing (CI installs it: there, fail)."""
    if shutil.which("curl") is None:
        skip_or_fail(
            "curl is needed inside the namespace",
            "curl is needed inside the namespace (.ci/run installs it)",
        )


def with_this_azimds(env: Dict[str, str]) -> Dict[str, str]:
    """Return ``env`` where a Python imports azimds from where this test imported it."""
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(azimds.__file__).parents[1]), env.get("PYTHONPATH")])
    )
    return env


@pytest.mark.netns
def test_emulator_at_169_254_169_254_inside_a_private_namespace() -> None:
    needs_curl()
    env = with_this_azimds(no_proxy_env())
    with PrivateNetwork(imds_address=True) as network:
        server = network.popen(
            [sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True, env=env
        )
        assert server.stdout is not None
        started = server.stdout.readline()
        if started != "http://169.254.169.254\n":
            pytest.fail(f"the emulator did not start: {started!r}")
        done = network.run(
            [
                "curl",
                "-s",
                "-H",
                "Metadata:true",
                "http://169.254.169.254/metadata/instance?api-version=2017-08-01",
            ],
            capture_output=True,
            timeout=60,
            env=env,
        )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    document = json.loads(done.stdout)
    assert set(document) == {"compute", "network"}
    assert document["compute"]["vmId"] == "13f56399-bd52-4150-9748-7190aae1ff21"
    assert document["compute"]["tags"] == "Department:IT;Environment:Prod;Role:WorkerRole"
    assert "zone" not in document["compute"]  # 2017-12-01 field, not served at 2017-08-01
    interface = document["network"]["interface"][0]
    assert interface["ipv4"]["ipAddress"][0]["privateIpAddress"] == "10.1.2.5"


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com"]
)
def test_binding_beyond_loopback_is_refused(host: str) -> None:
    with pytest.raises(BindRefused, match=r"loopback|127\.0\.0\.1"):
        Emulator(host=host)


def test_refused_before_anything_listens() -> None:
    emulator: Optional[Emulator] = None
    with pytest.raises(BindRefused):
        emulator = Emulator(host="169.254.169.254", port=80)
    assert emulator is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_loopback_is_allowed(host: str) -> None:
    with Emulator(host=host, rate_limit=False) as emulator:
        assert host in emulator.base_url


def test_addresses_mode_refuses_to_run_past_loopback() -> None:
    profiles = [profile_from_mapping({"compute": {"name": f"vm{i}"}}) for i in range(3)]
    # 127.255.255.254, 127.255.255.255, then 128.0.0.0: not loopback any more.
    with pytest.raises(BindRefused, match=r"128\.0\.0\.0"):
        Emulator(profiles, host="127.255.255.254", addressing="addresses")


def documented_namespace_example() -> str:
    """Return the `unshare -rn` shell example of docs/emulator.md, as written."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "emulator.md").read_text("utf-8")
    blocks: List[str] = re.findall(r"```sh\n(.*?)```", docs, re.S)
    [example] = [block for block in blocks if "unshare -rn" in block]
    return example


def processes_marked(marker: str) -> List[int]:
    """Return the ids of the processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if f"AZIMDS_TEST_MARKER={marker}".encode() in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


@pytest.mark.netns
def test_the_documented_namespace_example_runs_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    needs_curl()
    # `azimds` on the PATH is this test's azimds, whatever installed it.
    shim = tmp_path / "bin" / "azimds"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m azimds "$@"\n')
    shim.chmod(0o755)
    marker = uuid.uuid4().hex
    env = with_this_azimds(no_proxy_env())
    env["PATH"] = os.pathsep.join([str(shim.parent), env.get("PATH", "")])
    env["AZIMDS_TEST_MARKER"] = marker  # every process the example starts inherits it
    try:
        # Files, not pipes: an emulator left running would hold a pipe open forever.
        out, err = tmp_path / "out", tmp_path / "err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            code = subprocess.call(
                ["sh", "-c", documented_namespace_example()],
                stdout=stdout,
                stderr=stderr,
                timeout=60,
                env=env,
                cwd=tmp_path,
            )
        assert code == 0, err.read_text(errors="replace")
        announcement, document_line = out.read_text().rsplit("\n", 1)  # curl's answer last
        assert "at http://169.254.169.254\n" in announcement
        document = json.loads(document_line)
        assert document["compute"]["vmId"] == "13f56399-bd52-4150-9748-7190aae1ff21"
        assert "zone" not in document["compute"]  # served at 2017-08-01, as asked
        assert processes_marked(marker) == []  # the emulator did not outlive the example
    finally:
        for pid in processes_marked(marker):
            os.kill(pid, signal.SIGKILL)
