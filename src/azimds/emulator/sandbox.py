"""An emulated VM where a real one's IMDS would be, for tools run against it in other processes.

The tests, the benchmarks and the demo use it to run Ansible, Salt, cloud-init or ``azimds``
itself as separate processes against the emulator, on this machine's loopback or inside a
private network (``netns.PrivateNetwork``):

    with PrivateNetwork(imds_address=True) as network:
        vm = EmulatorProcess(["serve", "--port", "0"], network).start()
        env = environment(vm.base_url)                  # AZIMDS_ENDPOINT: the emulated VM
        env = environment(dmi_dir=str(fake_dmi(folder)))  # or: detection says Azure
        network.run(["salt-call", ...], env=env)

- ``EmulatorProcess``: ``azimds emulator serve|fleet`` in a process of its own, started, its
  announced URL (or fleet manifest) read, stopped with its process group;
- ``fake_dmi``: a DMI folder for detection (``AZIMDS_DMI_DIR``), Azure's or another machine's;
- ``environment``: a small environment with no ``AZIMDS_*`` variable but those asked for.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from ..imds.detect import AZURE_CHASSIS_ASSET_TAG
from .netns import PrivateNetwork, stop_process_groups

NO_DMI = "/nonexistent/azimds-sandbox-has-no-dmi"
"""An ``AZIMDS_DMI_DIR`` that exists nowhere: detection then says "not on Azure"."""

NOT_AZURE_TAG = "Default string"
"""A chassis asset tag as many machines that are not Azure VMs show it."""

AZIMDS = (sys.executable, "-m", "azimds")
"""The ``azimds`` command: this Python's."""


def fake_dmi(
    folder: Path, chassis_asset_tag: Optional[str] = AZURE_CHASSIS_ASSET_TAG, **files: str
) -> Path:
    """Write a DMI folder as detection reads it (point ``AZIMDS_DMI_DIR`` at it); return it.

    Its chassis asset tag is Azure's unless another is given (None: no tag file, as on a
    machine without DMI data); ``files`` are more DMI files, e.g. ``product_uuid`` (the system
    UUID, which cloud-init compares with the vmId).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if chassis_asset_tag is not None:
        files = {"chassis_asset_tag": chassis_asset_tag, **files}
    for name, value in files.items():
        (folder / name).write_text(value + "\n", encoding="ascii")
    return folder


def environment(
    endpoint: Optional[str] = None, dmi_dir: str = NO_DMI, **extra: str
) -> Dict[str, str]:
    """Return a small environment for a tool: no AZIMDS_* variable but those given.

    ``endpoint`` becomes ``AZIMDS_ENDPOINT``; ``dmi_dir`` is where detection reads the chassis
    asset tag (by default a folder that does not exist, so: not on Azure); ``extra`` adds or
    replaces variables (PATH, HOME and LANG are this process's, or plain defaults).
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


class EmulatorProcess:
    """``azimds emulator serve|fleet ARGUMENTS`` in a process of its own.

    It runs on this machine (loopback) or, given ``network``, inside that private network.
    ``base_url`` is the first VM's; ``vms`` the fleet manifest's entries (one VM for ``serve``);
    ``process`` the running process, which leads its own process group. The control API
    (faults, request journal) is reached from where the emulator runs, with ``control``.

    ``azimds`` is the command to run (default: this Python's); ``cwd`` its folder (a relative
    fleet manifest is read from there); ``stderr`` where its log goes (default: nowhere).
    """

    def __init__(
        self,
        arguments: Sequence[str],
        network: Optional[PrivateNetwork] = None,
        *,
        azimds: Sequence[str] = AZIMDS,
        cwd: Optional[Path] = None,
        stderr: Union[int, IO[Any]] = subprocess.DEVNULL,
    ) -> None:
        self.arguments = list(arguments)
        self.network = network
        self.azimds = list(azimds)
        self.cwd = cwd
        self.stderr = stderr
        self.process: Optional[subprocess.Popen[str]] = None
        self.vms: List[Dict[str, Any]] = []

    def start(self) -> EmulatorProcess:
        """Start it and wait until it listens; return self.

        Raises:
            RuntimeError: it did not start (what it printed is in the message).
        """
        command = [*self.azimds, "emulator", *self.arguments]
        options: Dict[str, Any] = {
            "stdout": subprocess.PIPE,
            "stderr": self.stderr,
            "text": True,
            "cwd": self.cwd,
        }
        if self.network is not None:
            self.process = self.network.popen(command, **options)
        else:
            self.process = subprocess.Popen(command, start_new_session=True, **options)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "manifest written to " in line:  # fleet
            manifest = Path(self.cwd or ".") / line.rsplit("manifest written to ", 1)[1].strip()
            self.vms = json.loads(manifest.read_text(encoding="utf-8"))["vms"]
        elif " at http://" in line:  # serve
            self.vms = [{"base_url": line.rsplit(" at ", 1)[1].strip()}]
        else:
            errors = self.process.stderr
            self.stop()
            said = errors.read().strip() if errors is not None else ""
            raise RuntimeError(f"the emulator did not start: {line.strip()!r} {said}".strip())
        return self

    @property
    def base_url(self) -> str:
        """Return the first VM's base URL."""
        return str(self.vms[0]["base_url"])

    def control(self, method: str, path: str, body: Any = None, base_url: str = "") -> Any:
        """Send one control-API request (e.g. ``POST /azimds/faults``) and return its JSON.

        Raises:
            RuntimeError: the request failed (the emulator's answer is in the message).
        """
        url = (base_url or self.base_url) + path
        data = None if body is None else json.dumps(body)
        if self.network is None:  # on this machine's loopback: asked from this process
            try:
                status, text = _control_request(method, url, data)
            except (OSError, http.client.HTTPException) as exc:
                raise RuntimeError(f"control {method} {url} failed: {exc!r}") from exc
            if status >= 300:
                raise RuntimeError(f"control {method} {url} failed: {status} {text}")
            return json.loads(text)
        # Inside the private network: asked by a process there (python -m this module).
        argv = [sys.executable, "-m", __name__, method, url, *([data] if data else [])]
        done = self.network.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"control {method} {url} failed: {done.stdout} {done.stderr}")
        return json.loads(done.stdout)

    def instance_requests(self, base_url: str = "") -> int:
        """Return how many instance-document requests the VM has received."""
        journal = self.control("GET", "/azimds/requests", base_url=base_url)["requests"]
        return sum(1 for entry in journal if entry["path"].startswith("/metadata/instance"))

    def stop(self, grace: float = 10.0) -> None:
        """Stop it and its process group (a later request finds nothing listening).

        Safe to call twice.
        """
        if self.process is None:
            return
        if self.network is not None:
            self.network.stop(self.process, grace)
        else:
            stop_process_groups([self.process], grace)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _control_request(method: str, url: str, body: Optional[str]) -> Tuple[int, str]:
    """Send one request to an emulator's control API; return its status and text."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        connection.close()


def main(argv: Sequence[str]) -> int:
    """``python -m azimds.emulator.sandbox METHOD URL [JSON]``: print the control API's answer.

    Returns 0 when it answered with a success status, else 1.
    """
    status, text = _control_request(argv[0], argv[1], argv[2] if len(argv) > 2 else None)
    print(text)
    return 0 if status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
