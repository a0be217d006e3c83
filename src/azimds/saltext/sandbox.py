"""A throwaway Salt minion and emulated VM for the demo, the tests and the benchmarks.

    with PrivateNetwork() as network:
        emulator = EmulatorProcess(network, ["serve"]).start()
        config = write_config(folder, minion_settings(folder))
        done = network.run(salt_call_command(config, "grains.get", "azure:zone"),
                           env=environment(emulator.base_url), capture_output=True, text=True)

The minion runs ``salt-call --local`` (no master), reads files from ``<folder>/srv/salt``, and
keeps its cache, keys, sockets and log under the folder. Salt's reverse lookups for its
``fqdns`` grain are switched off; its other name lookups are why every Salt process here runs
in a ``PrivateNetwork`` (see ``netns.py``), as does the emulator it talks to.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from .netns import PrivateNetwork

NO_DMI = "/nonexistent/azimds-sandbox-has-no-dmi"
"""An ``AZIMDS_DMI_DIR`` that exists nowhere: detection then says "not on Azure"."""


def minion_settings(root: Path, minion_id: str = "azimds-sandbox", **extra: Any) -> Dict[str, Any]:
    """Return a minion config with every path under ``root``, updated with ``extra``."""
    settings: Dict[str, Any] = {
        "id": minion_id,
        "root_dir": str(root),
        "cachedir": str(root / "cache"),
        "extension_modules": str(root / "extmods"),
        "pki_dir": str(root / "pki"),
        "sock_dir": str(root / "sock"),
        "log_file": str(root / "log" / "minion"),
        "log_level_logfile": "info",
        "file_client": "local",
        "file_roots": {"base": [str(root / "srv" / "salt")]},
        "pillar_roots": {"base": [str(root / "srv" / "pillar")]},
        "enable_fqdns_grains": False,
    }
    settings.update(extra)
    return settings


def write_config(root: Path, settings: Mapping[str, Any], name: str = "minion") -> Path:
    """Write ``settings`` as ``<root>/conf/<name>`` and return the config folder (``-c``).

    JSON is written: every JSON document is YAML, and JSON quotes every string, so a value
    such as ``yes`` or ``1.0`` stays what it was.
    """
    folder = root / "conf"
    folder.mkdir(parents=True, exist_ok=True)
    for key in ("cachedir", "pki_dir", "sock_dir", "extension_modules"):
        if key in settings:
            Path(settings[key]).mkdir(parents=True, exist_ok=True)
    for paths in settings.get("file_roots", {}).values():
        for path in paths:
            Path(path).mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    return folder


def environment(
    endpoint: Optional[str] = None, dmi_dir: str = NO_DMI, **extra: str
) -> Dict[str, str]:
    """Return a small environment for a Salt process: no AZIMDS_* variable but those given.

    ``endpoint`` becomes ``AZIMDS_ENDPOINT``; ``dmi_dir`` is where detection reads the chassis
    asset tag (by default a folder that does not exist, so: not on Azure).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "AZIMDS_DMI_DIR": dmi_dir,
    }
    if endpoint is not None:
        env["AZIMDS_ENDPOINT"] = endpoint
    env.update(extra)
    return env


def salt_call_command(
    config: Path, *args: str, bin_dir: Optional[Path] = None, output: str = "json"
) -> List[str]:
    """Return the ``salt-call --local`` command line for ``args`` (``output``: Salt's outputter).

    ``bin_dir`` is the folder of the ``salt-call`` script (default: beside this Python).
    """
    folder = bin_dir if bin_dir is not None else Path(sys.executable).parent
    return [str(folder / "salt-call"), "--local", "-c", str(config), "--out", output, *args]


def local_result(done: subprocess.CompletedProcess[str]) -> Any:
    """Return the ``local`` value of a JSON ``salt-call`` output.

    Raises:
        RuntimeError: the call failed or printed something else (its output is in the message).
    """
    try:
        return json.loads(done.stdout)["local"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"salt-call exited {done.returncode}: {_tail(done.stdout)} {_tail(done.stderr)}"
        ) from None


class EmulatorProcess:
    """The IMDS emulator (``azimds emulator serve`` or ``fleet``) running in a PrivateNetwork.

    ``base_url`` is the first VM's; ``vms`` the fleet manifest (one VM for ``serve``). The
    control API (faults, request journal) is reached from inside the network with ``control``.
    """

    def __init__(self, network: PrivateNetwork, arguments: Sequence[str]) -> None:
        self.network = network
        self.arguments = list(arguments)
        self.process: Optional[subprocess.Popen[str]] = None
        self.vms: List[Dict[str, Any]] = []

    def start(self) -> EmulatorProcess:
        """Start it and wait until it listens; return self.

        Raises:
            RuntimeError: it did not start (its first line of output is in the message).
        """
        command = [sys.executable, "-m", "azimds", "emulator", *self.arguments]
        self.process = self.network.popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if self.arguments[0] == "fleet" and "manifest written to" in line:
            manifest = line.rsplit("manifest written to ", 1)[1].strip()
            self.vms = json.loads(Path(manifest).read_text(encoding="utf-8"))["vms"]
        elif " at http://" in line:
            self.vms = [{"base_url": line.rsplit(" at ", 1)[1].strip()}]
        else:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line.strip()!r}")
        return self

    @property
    def base_url(self) -> str:
        """Return the first VM's base URL."""
        return str(self.vms[0]["base_url"])

    def control(self, method: str, path: str, body: Any = None, base_url: str = "") -> Any:
        """Send one control-API request (e.g. ``POST /azimds/faults``) and return its JSON."""
        url = (base_url or self.base_url) + path
        arguments = [sys.executable, "-m", "azimds.saltext.sandbox", method, url]
        if body is not None:
            arguments.append(json.dumps(body))
        done = self.network.run(arguments, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"control {method} {url} failed: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def instance_requests(self, base_url: str = "") -> int:
        """Return how many instance-document requests the VM has received."""
        journal = self.control("GET", "/azimds/requests", base_url=base_url)["requests"]
        return sum(1 for entry in journal if entry["path"].startswith("/metadata/instance"))

    def stop(self) -> None:
        """Stop it (a later request finds nothing listening). Safe to call twice."""
        if self.process is not None:
            self.network.stop(self.process)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None


def _control_request(method: str, url: str, body: Optional[str]) -> int:
    """Send one request to an emulator's control API; print the JSON answer; return 0 or 1."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request(method, target, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode("utf-8")
    print(text)
    return 0 if response.status < 300 else 1


def _tail(text: Union[str, bytes], lines: int = 20) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


if __name__ == "__main__":  # python -m azimds.saltext.sandbox METHOD URL [JSON]: control API
    sys.exit(_control_request(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
