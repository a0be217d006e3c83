"""``make demo``: azimds end to end on the embedded emulator, on loopback, with no Azure VM.

It starts the emulator in-process, then shows real requests and answers: the documented IMDS
calls, the errors, and what azimds makes of them for each tool.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional
from urllib.parse import urlsplit

from . import salt_minion
from .emulator import Emulator, default_profile, netns
from .emulator.sandbox import EmulatorProcess, environment

PAUSE = 0.25  # stay under IMDS's 5 requests per second, as a real client must


def show_lines(text: str, limit: Optional[int] = None) -> None:
    """Print the first ``limit`` lines of ``text`` (all of them when None), indented, and how
    many more there were."""
    lines = text.rstrip().splitlines()
    for line in lines[:limit]:
        print(f"     {line}")
    if limit is not None and len(lines) > limit:
        print(f"     ... ({len(lines) - limit} more lines)")


def show_request(base_url: str, target: str, headers: Optional[dict[str, str]] = None) -> None:
    """Send one GET to the emulator and print it as curl would, then the answer."""
    headers = {"Metadata": "true"} if headers is None else headers
    shown = " ".join(f"-H {k}:{v}" for k, v in headers.items())
    print(f'$ curl {shown} "{base_url}{target}"'.replace("  ", " "))
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    connection.request("GET", target, headers=headers)
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    print(f"  -> {response.status} {response.reason}")
    try:
        pretty = json.dumps(json.loads(body), indent=2)
    except ValueError:
        pretty = body
    show_lines(pretty, 14)
    time.sleep(PAUSE)


def run_azimds(args: List[str]) -> None:
    """Run the ``azimds`` command as a user would and print what it prints."""
    print(f"$ azimds {' '.join(args)}")
    result = subprocess.run(
        [sys.executable, "-m", "azimds", *args], capture_output=True, text=True, timeout=120
    )
    show_lines(result.stdout + result.stderr, 24)
    print(f"  (exit code {result.returncode})")
    time.sleep(PAUSE)


def heading(text: str) -> None:
    """Print a section heading."""
    print(f"\n=== {text}")


def raw_requests(emulator: Emulator) -> None:
    """Show the documented IMDS requests and their answers."""
    url = emulator.base_url
    heading("The documented requests, answered by the emulator")
    show_request(url, "/metadata/instance/compute?api-version=2017-08-01")
    show_request(url, "/metadata/instance/compute/zone?api-version=2021-02-01&format=text")
    show_request(url, "/metadata/instance/compute/tags?api-version=2018-10-01&format=text")
    show_request(
        url,
        "/metadata/instance/network/interface/0/ipv4/ipAddress/0/"
        "privateIpAddress?api-version=2017-08-01&format=text",
    )
    heading("Errors, as IMDS answers them")
    show_request(url, "/metadata/instance")
    show_request(url, "/metadata/instance?api-version=2021-02-01", headers={})
    show_request(url, "/metadata/instance/compute/zone?api-version=2021-02-01")
    show_request(url, "/metadata/instance/compute/nothing?api-version=2021-02-01")
    heading("Version gating: tagsList exists from 2019-06-04 on")
    show_request(url, "/metadata/instance/compute/tagsList?api-version=2019-06-01")
    show_request(url, "/metadata/instance/compute/tagsList?api-version=2019-06-04")


def the_command(emulator: Emulator) -> None:
    """Show the azimds command: one request, normalized, in each tool's shape."""
    heading("The azimds command (AZIMDS_ENDPOINT points it at the emulator)")
    run_azimds(["detect", "-o", "table"])
    run_azimds(["get", "compute/zone"])
    run_azimds(["tags", "-o", "table"])
    run_azimds(["versions", "-o", "table"])
    heading("One vocabulary, each tool's idiom")
    run_azimds(["facts", "--for", "salt", "-o", "json"])
    run_azimds(["facts", "--for", "cloud-init", "-o", "json"])
    heading("Asking for what an old api-version cannot give fails clearly")
    run_azimds(["get", "--api-version", "2019-06-01", "compute/tagsList"])


def maintenance_window(emulator: Emulator) -> None:
    """Show the client riding out an IMDS update (410) and a 500, then answering."""
    heading("IMDS is being updated: 410 for 2 s, then a 500, then normal service")
    emulator.add_fault({"kind": "status", "status": 410, "seconds": 2})
    emulator.add_fault({"kind": "status", "status": 500, "times": 1})
    started = time.monotonic()
    run_azimds(["get", "compute/vmId", "-v"])
    print(f"  (answered after {time.monotonic() - started:.1f} s of retries, within the deadline)")
    emulator.clear_faults()


def attestation(emulator: Emulator, root: Path) -> None:
    """Show an attested document fetched with a fresh nonce and verified end to end."""
    heading("Attested data: fetch with a fresh nonce, verify signature, chain, cloud, nonce, time")
    root.write_bytes(emulator.attestation_root_pem())
    run_azimds(
        [
            "attest",
            "--verify",
            "--trust",
            str(root),
            "--aia-host",
            emulator.base_url[len("http://") :],
        ]
    )
    print("  The same document without trusting the emulator's test CA:")
    run_azimds(["attest", "--verify", "--aia-host", emulator.base_url[len("http://") :]])


INVENTORY_FLEET = """\
seed: 3
locations: {westus2: 4, eastus: 2}
zones: ["1", "2", "3"]
fault_domains: 2
update_domains: 3
tags: {Environment: [prod, dev, prod], Role: [web, db]}
"""


def ansible_inventory(_emulator: Emulator) -> None:
    """Show the azure_imds inventory plugin grouping an emulated fleet (ansible-inventory)."""
    heading("Ansible inventory: a fleet grouped by zone, domains and tags (azimds.imds.azure_imds)")
    repository = Path(__file__).resolve().parents[2]
    command = Path(sys.executable).parent / "ansible-inventory"
    if not (repository / "ansible_collections" / "azimds").is_dir() or not command.exists():
        print(
            "  (skipped: needs ansible-core and a checkout of the repository, as `make demo` has)"
        )
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "fleet.yaml").write_text(INVENTORY_FLEET, encoding="utf-8")
        (folder / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
        config = (
            "plugin: azimds.imds.azure_imds\nsource: endpoints\nendpoints: [azimds-fleet.json]\n"
        )
        (folder / "fleet.azure_imds.yml").write_text(config, encoding="utf-8")
        with EmulatorProcess(["fleet", "fleet.yaml", "--quiet"], cwd=folder):
            print("$ azimds emulator fleet fleet.yaml &     # 6 VMs, each its own IMDS on loopback")
            print("$ cat fleet.azure_imds.yml")
            show_lines(config)
            env = {
                **os.environ,
                "ANSIBLE_COLLECTIONS_PATH": str(repository),
                "ANSIBLE_CONFIG": str(folder / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
            }
            env.pop("AZIMDS_ENDPOINT", None)
            commands = [
                ["ansible-inventory", "-i", "fleet.azure_imds.yml", "--graph"],
                [
                    "ansible",
                    "-i",
                    "fleet.azure_imds.yml",
                    "--list-hosts",
                    "azure_zone_1:&azure_tag_environment_prod",
                ],
            ]
            for argv in commands:
                print("$ " + shlex.join(argv))
                done = subprocess.run(
                    [str(command.parent / argv[0]), *argv[1:]],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                )
                show_lines(done.stdout + done.stderr)


# --- Ansible: the collection azimds.imds, run by a real ansible-playbook ---------------------

ANSIBLE_PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Gather the Azure IMDS facts
      azimds.imds.metadata_facts:
    - name: Where this VM runs
      ansible.builtin.debug:
        msg:
          - "zone {{ ansible_facts['azure_imds']['placement']['zone'] }}"
          - "fault domain {{ ansible_facts['azure_imds']['placement']['fault_domain'] }}"
          - "update domain {{ ansible_facts['azure_imds']['placement']['update_domain'] }}"
          - "tags {{ ansible_facts['azure_imds']['tags'] }}"
          - "api-version {{ ansible_facts['azure_imds']['api_version'] }}"
"""


def ansible_playbook(emulator: Emulator) -> None:
    """Run a real ansible-playbook with azimds.imds.metadata_facts against the emulator."""
    heading("Ansible: azimds.imds.metadata_facts in a real ansible-playbook run")
    command = Path(sys.executable).with_name("ansible-playbook")
    if not command.exists():
        print("  (skipped: ansible-core is not installed here; `make demo` installs it)")
        return
    repository = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as folder:
        playbook = Path(folder) / "where.yml"
        playbook.write_text(ANSIBLE_PLAYBOOK, encoding="utf-8")
        print(f"$ cat {playbook.name}")
        show_lines(ANSIBLE_PLAYBOOK)
        print(f"$ ANSIBLE_COLLECTIONS_PATH={repository} \\")
        print(f"    ansible-playbook -i localhost, {playbook.name}")
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(repository),
            AZIMDS_ENDPOINT=emulator.base_url,
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(Path(folder) / "tmp"),
            ANSIBLE_REMOTE_TEMP=str(Path(folder) / "tmp"),
        )
        before = len(emulator.requests)
        result = subprocess.run(
            [
                str(command),
                "-i",
                "localhost,",
                "-c",
                "local",
                str(playbook),
                "-e",
                f"ansible_python_interpreter={sys.executable}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=folder,
        )
    shown = [line for line in result.stdout.splitlines() if line.strip()]
    for line in shown[-22:]:
        print(f"     {line}")
    if result.returncode != 0:
        print(result.stderr.rstrip())
    sent = len(emulator.requests) - before
    print(f"  (exit code {result.returncode}; the emulator received {sent} request(s) for it)")


def salt_grains(emulator: Emulator) -> None:
    """Show salt-call loading the azure grain, in a private network with its own emulated VM.

    Salt's core grains look up the host name in DNS, so Salt runs in a network namespace with
    only loopback (``unshare -rn``) and an emulator of its own there; ``emulator`` is unused.
    """
    heading("Salt: the azure grain (salt-call --local, Salt installed with the dev extras)")
    why_not = netns.available()
    if why_not is not None:
        print(f"  skipped: Salt runs here only in a private network namespace, and {why_not}")
        return
    with tempfile.TemporaryDirectory() as folder, netns.PrivateNetwork() as network:
        vm = EmulatorProcess(["serve", "--port", "0", "--quiet"], network).start()
        root = Path(folder)
        config = salt_minion.write_config(root, salt_minion.minion_settings(root, minion_id="demo"))
        env = environment(vm.base_url)
        print(f"  (AZIMDS_ENDPOINT={vm.base_url}: the emulated VM; the minion config is in")
        print(f"  {config}/minion, every path under {folder})")
        for args in (
            ["grains.get", "azure"],
            ["grains.get", "azure:zone"],
            ["match.grain", "azure:tags:Environment:Prod"],
        ):
            print(f"$ salt-call --local {' '.join(args)}")
            command = salt_minion.salt_call_command(config, *args, output="nested")
            done = network.run(command, env=env, capture_output=True, text=True)
            show_lines(done.stdout + done.stderr, 40)
        print(f"  ({vm.instance_requests()} request to IMDS: the later calls read the cache)")


# --- cloud-init ------------------------------------------------------------------------------

# Run by the cloud-init found in AZIMDS_DEMO_CLOUD_INIT (make demo points it at Debian's newest,
# unpacked): cloud-init's own search finds AzureImds from the shipped snippet, with the endpoint
# set to the emulator; everything cloud-init writes goes to a temporary folder.
CLOUD_INIT_DEMO = """
import json, pathlib, subprocess, sys, tempfile
from cloudinit import distros, helpers, sources, util, version
from cloudinit.reporting import events
from azimds.cloudinit import snippet

with tempfile.TemporaryDirectory() as work:
    folder = pathlib.Path(work)
    (folder / "95_azimds.cfg").write_text(snippet())
    (folder / "empty").write_text("")
    cfg = util.get_builtin_cfg()
    cfg.update(util.read_conf(str(folder / "95_azimds.cfg")))
    cfg["datasource"]["AzureImds"]["endpoint"] = sys.argv[1]
    paths = helpers.Paths({"cloud_dir": work + "/cloud", "run_dir": work + "/run"})
    distro = distros.fetch("debian")("debian", cfg, paths)
    reporter = events.ReportEventStack("demo", "demo", reporting_enabled=False)
    datasource, name = sources.find_source(
        cfg, distro, paths, [sources.DEP_FILESYSTEM, sources.DEP_NETWORK],
        cfg["datasource_list"], cfg["datasource_pkg_list"] + ["cloudinit.sources"], reporter)
    print(f"cloud-init {version.version_string()}: found {name} "
          f"({type(datasource).__module__}), instance-id {datasource.get_instance_id()}")
    data = str(folder / "run" / "instance-data.json")
    for args in (["availability_zone"], ["ds.meta_data.fault_domain"],
                 ["ds.meta_data.tags.Environment"],
                 ["--format", "zone {{ v1.availability_zone }} in {{ v1.region }}, "
                  "fault domain {{ ds.meta_data.fault_domain }}"],
                 ["ds.meta_data"]):
        shown = " ".join(repr(a) if " " in a else a for a in args)
        done = subprocess.run(
            [sys.executable, "-m", "cloudinit.cmd.main", "query", "-i", data,
             "-u", str(folder / "empty"), "-v", str(folder / "empty"), *args],
            capture_output=True, text=True)
        print(f"$ cloud-init query {shown}")
        print(done.stdout.rstrip() or done.stderr.rstrip())
"""


def cloud_init(emulator: Emulator) -> None:
    """Show Debian's real cloud-init finding the AzureImds datasource and querying its facts."""
    heading("cloud-init: the AzureImds datasource, in Debian's real cloud-init")
    where = os.environ.get("AZIMDS_DEMO_CLOUD_INIT", "")
    if not where or not Path(where, "cloudinit").is_dir():
        print("  (skipped: no cloud-init to run; `make demo` unpacks Debian's into .cache)")
        return
    env = {**os.environ, "PYTHONPATH": where, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CLOUD_INIT_DEMO, emulator.base_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    show_lines(result.stdout + result.stderr, 40)
    time.sleep(PAUSE)


SECTIONS: List[Callable[[Emulator], None]] = [
    raw_requests,
    the_command,
    maintenance_window,
    ansible_playbook,
    ansible_inventory,
    salt_grains,
    cloud_init,
]

# The last words: only what a user can do now (tests/test_demo.py holds them to it).
CLOSING = """
Done. To try it yourself:
  azimds emulator serve &
  AZIMDS_ENDPOINT=http://127.0.0.1:8169 azimds facts -o table
Every command and exit code: docs/cli.md; the emulator: docs/emulator.md."""


def main() -> int:
    """Run the demo; return the exit code."""
    profile = default_profile()
    with Emulator(profile) as emulator:
        print(
            f"azimds demo: an emulated VM '{profile.name}' ({profile.vm_id}) answers IMDS at "
            f"{emulator.base_url}\n(no packet leaves this machine: everything is on loopback)"
        )
        os.environ["AZIMDS_ENDPOINT"] = emulator.base_url
        for section in SECTIONS:
            section(emulator)
        with tempfile.TemporaryDirectory() as folder:
            attestation(emulator, Path(folder) / "emulator-root.pem")
    print(CLOSING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
