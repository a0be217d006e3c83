"""Run the azure_imds inventory plugin the way users do: real ansible-inventory/-playbook runs.

Each run gets its own HOME and ansible.cfg under the test's folder, the collection straight
from this repository (``ANSIBLE_COLLECTIONS_PATH``), no DMI data (detection says "not on
Azure" unless a test says otherwise) and only loopback endpoints: nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set

import yaml

import ansible_support as support
from azimds.emulator.profile import VMProfile, profile_from_mapping
from azimds.imds import versions

PLUGIN = "azimds.imds.azure_imds"
REPO = support.REPO
# The full `ansible` package's collections (community.general) and the redis client, installed
# from the package index into this folder by `make test` (never from galaxy).
ANSIBLE_EXTRAS = REPO / ".cache" / "ansible-extras"


@dataclass
class Result:
    """What an Ansible command printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str
    listed: str = ""  # what ansible-inventory --list wrote to its --output file

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def listing(self) -> Dict[str, Any]:
        """Return the JSON ``ansible-inventory --list`` wrote."""
        assert self.returncode == 0, self.output
        data: Dict[str, Any] = json.loads(self.listed)
        return data

    def warnings(self) -> List[str]:
        """Return the plugin's warnings, one per reported host problem, joined back into lines."""
        text = " ".join(self.stderr.split())
        return re.findall(r"\[WARNING\]: (azure_imds: .*?)(?= \[WARNING\]|$)", text)


def environment(workdir: Path, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return the environment for Ansible commands run by a test in ``workdir``."""
    env = support.base_env(support.ansible_bin(), home=workdir / "home")
    env.update(extra or {})
    return env


def run(argv: Sequence[str], workdir: Path, env: Mapping[str, str], timeout: float = 240) -> Result:
    """Run an Ansible command (argv[0] is looked up in the ansible-core under test)."""
    command = [str(support.ansible_bin() / argv[0]), *argv[1:]]
    done = subprocess.run(
        command, cwd=workdir, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_config(folder: Path, name: str = "fleet.azure_imds.yml", **options: Any) -> Path:
    """Write an azure_imds config file with ``options``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({"plugin": PLUGIN, **options}, sort_keys=False), "utf-8")
    return path


def inventory(config: Path, env: Mapping[str, str], *args: str) -> Result:
    """Run ``ansible-inventory -i CONFIG --list ARGS``; the listing is in ``Result.listed``."""
    output = config.parent / (config.name + ".listing.json")
    output.unlink(missing_ok=True)
    argv = ["ansible-inventory", "-i", str(config), "--list", "--output", str(output), *args]
    result = run(argv, config.parent, env)
    if output.exists():
        result.listed = output.read_text("utf-8")
    return result


def groups(listing: Mapping[str, Any]) -> Dict[str, Set[str]]:
    """Return {group: hosts directly in it} from an ``ansible-inventory --list`` listing."""
    return {
        name: set(body.get("hosts", []))
        for name, body in listing.items()
        if name != "_meta" and isinstance(body, dict) and body.get("hosts")
    }


def groups_by_host(listing: Mapping[str, Any]) -> Dict[str, Set[str]]:
    """Return {host: the groups it is directly in}."""
    found: Dict[str, Set[str]] = {host: set() for host in hostvars(listing)}
    for group, members in groups(listing).items():
        for host in members:
            found.setdefault(host, set()).add(group)
    return found


def hostvars(listing: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Return the listing's host variables, untrusted strings unwrapped (see ``plain``)."""
    found: Dict[str, Dict[str, Any]] = plain(listing["_meta"]["hostvars"])
    return found


def plain(value: Any) -> Any:
    """Return ``value`` with ``{"__ansible_unsafe": text}`` replaced by ``text``.

    ansible-inventory (2.19) writes every host variable string that is not trusted as a
    template in that form, so that whoever reads the listing back does not render it.
    """
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def safe(name: str) -> str:
    """Return ``name`` as Ansible makes keyed group names safe (ASCII names in these tests)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def profile(compute: Mapping[str, Any], network_ip: Optional[str] = None) -> VMProfile:
    """Return a VM profile over the emulator's default one, with ``compute`` overrides."""
    data: Dict[str, Any] = {"compute": dict(compute)}
    if network_ip is not None:
        data["network"] = {
            "interface": [
                {
                    "ipv4": {
                        "ipAddress": [{"privateIpAddress": network_ip, "publicIpAddress": ""}],
                        "subnet": [{"address": "10.9.0.0", "prefix": "16"}],
                    },
                    "ipv6": {"ipAddress": []},
                    "macAddress": "000D3A000001",
                }
            ]
        }
    return profile_from_mapping(data, source="<test>")


def document(vm: VMProfile, version: str = versions.NEWEST) -> Dict[str, Any]:
    """Return the instance document the emulator serves for ``vm`` at ``version``."""
    return versions.document_at(vm.instance, version)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gather(workdir: Path, endpoints: Mapping[str, Optional[str]], cache: Mapping[str, str]) -> None:
    """Run azimds.imds.metadata_facts for each host into the fact cache ``cache`` configures.

    ``endpoints`` maps host names to IMDS base URLs (None: no endpoint, and no DMI data, so
    that host is no Azure VM). Hosts use the local connection and the controller's Python.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{name} ansible_connection=local" + (f" imds_endpoint={url}" if url else "")
        for name, url in endpoints.items()
    ]
    (workdir / "hosts.ini").write_text("\n".join(lines) + "\n", "utf-8")
    task = {"azimds.imds.metadata_facts": {"endpoint": "{{ imds_endpoint | default(omit) }}"}}
    play = [{"hosts": "all", "gather_facts": False, "tasks": [task]}]
    (workdir / "gather.yml").write_text(json.dumps(play), "utf-8")
    python = str(support.controller_python(support.ansible_bin()))
    env = environment(workdir, {**cache, "ANSIBLE_PYTHON_INTERPRETER": python})
    done = run(["ansible-playbook", "-i", "hosts.ini", "gather.yml"], workdir, env)
    assert done.returncode == 0, done.output
