"""A real boot: ``cloud-init init --local``, ``cloud-init init``, ``cloud-init query``.

Debian's cloud-init runs as on a VM, with its own /etc/cloud configuration plus azimds's
snippet, against the emulator at 169.254.169.254, inside private user, network, mount and
host-name namespaces where everything but private copies of /etc, /var, /run and /tmp is
read-only (cloudinit_boot.py). The machine's own /etc, /var, /run and /tmp are listed before
and after: every path cloud-init wrote inside must be untouched outside.
"""

from __future__ import annotations

import base64
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from cloud_init_packages import Unpacked
from cloudinit_support import OFF_AZURE, ON_AZURE, RELEASE_IDS, RELEASES, boot, require

pytestmark = [pytest.mark.netns, pytest.mark.timeout(900)]

VM_ID = "13f56399-bd52-4150-9748-7190aae1ff21"
TEMPLATE = """\
## template: jinja
#!/bin/sh
echo "zone={{ v1.availability_zone }} env={{ ds.meta_data.tags.Environment }} \
fault_domain={{ ds.meta_data.fault_domain }}"
"""
PROFILE = {
    "compute": {
        "zone": "2",
        "platformFaultDomain": 0,
        "userData": base64.b64encode(TEMPLATE.encode()).decode(),
    }
}
TEST_CFG = """\
cloud_init_modules: []
cloud_config_modules: []
cloud_final_modules: []
"""
QUERIES = [["availability_zone"], ["ds.meta_data"], ["ds.meta_data.fault_domain"]]
WITHOUT_METADATA = [["platform"]]
SCENARIOS: Dict[str, Dict[str, Any]] = {
    "azure": {"dmi": {**ON_AZURE, "product_uuid": VM_ID}, "profile": PROFILE, "queries": QUERIES},
    "off_azure": {"dmi": OFF_AZURE, "profile": PROFILE, "queries": WITHOUT_METADATA},
    "maintenance": {
        "dmi": ON_AZURE,
        "profile": PROFILE,
        "faults": [{"kind": "status", "status": 410, "seconds": 2}],
    },
    "malformed": {
        "dmi": ON_AZURE,
        "profile": PROFILE,
        "faults": [{"kind": "malformed"}],
        "queries": WITHOUT_METADATA,
    },
}
# Where the machine is compared before and after; cloud-init writes nowhere else here.
HOST_ROOTS = ("/etc", "/var", "/run")
# Where cloud-init writes on a VM; each must be as it was on the machine.
KNOWN = (
    "/var/lib/cloud",
    "/run/cloud-init",
    "/var/log/cloud-init.log",
    "/var/log/cloud-init-output.log",
    "/etc/cloud",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/network/interfaces.d",
    "/etc/netplan",
    "/etc/systemd/network",
)

Stat = Optional[Tuple[str, int, int, int]]


def host_state(path: str) -> Stat:
    """Return (kind, size, mtime in ns, inode) of a path on the machine, or None if absent."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    kind = "dir" if Path(path).is_dir() and not Path(path).is_symlink() else "other"
    return (kind, info.st_size, info.st_mtime_ns, info.st_ino)


def host_listing() -> Dict[str, Stat]:
    """Return the state of every path under HOST_ROOTS and directly under /tmp."""
    states: Dict[str, Stat] = {}
    for root in HOST_ROOTS:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                states[path] = host_state(path)
    for name in os.listdir("/tmp"):
        states[f"/tmp/{name}"] = host_state(f"/tmp/{name}")
    return states


@pytest.fixture(scope="module", params=RELEASES, ids=RELEASE_IDS)
def booted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[Dict[str, Any], Dict[str, Stat], Dict[str, Stat]]]:
    """Boot every scenario with one cloud-init version; yield reports and the machine's state
    before and after."""
    require()
    release: Unpacked = request.param
    work = tmp_path_factory.mktemp(f"boot-{release.release}")
    before = host_listing()
    with ThreadPoolExecutor(max_workers=2) as pool:  # each boot has its own namespaces
        futures = {
            name: pool.submit(boot, release, {"test_cfg": TEST_CFG, **scenario}, work / name)
            for name, scenario in SCENARIOS.items()
        }
        reports = {name: future.result() for name, future in futures.items()}
    after = host_listing()
    yield reports, before, after


def command(report: Dict[str, Any], *args: str) -> Dict[str, Any]:
    """Return the result of the cloud-init command run with ``args``."""
    found: List[Dict[str, Any]] = [c for c in report["commands"] if c["args"] == list(args)]
    assert len(found) == 1, args
    return found[0]


def azimds_lines(report: Dict[str, Any]) -> List[str]:
    """Return the datasource's own lines of cloud-init.log (the request traces left out)."""
    lines = report["log"].splitlines()
    return [x for x in lines if "DataSourceAzureImds.py[" in x and "AzureImds: GET " not in x]


def test_every_command_succeeds(booted: Any) -> None:
    reports, _, _ = booted
    for name, report in reports.items():
        for result in report["commands"]:
            assert result["returncode"] == 0, (name, result["args"], result["stderr"][-2000:])
            assert "Traceback" not in result["stderr"], (name, result["args"])
        assert "Traceback" not in report["log"], name


def test_cloud_init_loads_the_datasource_and_fetches_once(booted: Any) -> None:
    report = booted[0]["azure"]
    assert "Loaded datasource DataSourceAzureImds" in report["log"]
    assert [(r["path"], r["status"]) for r in report["requests"]] == [("/metadata/instance", 200)]


def test_query_availability_zone_is_the_zone(booted: Any) -> None:
    report = booted[0]["azure"]
    assert command(report, "query", "availability_zone")["stdout"] == "2\n"


def test_query_reaches_a_hyphenated_key_by_its_underscored_name(booted: Any) -> None:
    report = booted[0]["azure"]
    assert command(report, "query", "ds.meta_data.fault_domain")["stdout"] == "0\n"


def test_query_ds_meta_data_shows_the_azure_facts(booted: Any) -> None:
    meta = json.loads(command(booted[0]["azure"], "query", "ds.meta_data")["stdout"])
    assert meta["instance-id"] == VM_ID
    assert meta["availability-zone"] == "2"
    assert meta["fault-domain"] == 0
    assert meta["tags"]["Environment"] == "Prod"
    assert meta["region"] == "westus"


def test_user_data_template_is_rendered_with_zone_and_tag(booted: Any) -> None:
    script = booted[0]["azure"]["script"]
    assert script == '#!/bin/sh\necho "zone=2 env=Prod fault_domain=0"\n'


def test_instance_id_is_the_vm_id(booted: Any) -> None:
    assert booted[0]["azure"]["instance_id_file"] == f"{VM_ID}\n"


def test_off_azure_nothing_is_sent_and_none_is_used(booted: Any) -> None:
    report = booted[0]["off_azure"]
    assert report["requests"] == []
    assert report["boot_packets"] == 0  # not a packet on loopback, the only interface
    assert command(report, "query", "platform")["stdout"] == "none\n"  # DataSourceNone
    [line] = azimds_lines(report)
    assert "not on Azure" in line and "nothing sent" in line
    assert report["script"] is None


def test_maintenance_is_ridden_out_and_the_boot_goes_on(booted: Any) -> None:
    report = booted[0]["maintenance"]
    statuses = [r["status"] for r in report["requests"]]
    assert statuses[0] == 410 and statuses[-1] == 200
    assert "Loaded datasource DataSourceAzureImds" in report["log"]


def test_a_malformed_answer_gives_one_clear_line_and_cloud_init_goes_on(booted: Any) -> None:
    report = booted[0]["malformed"]
    warnings = [line for line in azimds_lines(report) if "[WARNING]" in line]
    assert len(warnings) == 1
    assert "no metadata from IMDS, datasource not used" in warnings[0]
    assert "the body is not valid JSON" in warnings[0]
    assert "Loaded datasource DataSourceNone" in report["log"]
    assert command(report, "init")["returncode"] == 0
    assert command(report, "query", "platform")["stdout"] == "none\n"


def test_cloud_init_wrote_only_in_the_private_places(booted: Any) -> None:
    reports, _, _ = booted
    for name, report in reports.items():
        assert report["written"], name  # it did write: the comparison below means something
        for path in report["written"] + report["removed"]:
            assert path.startswith(("/etc/", "/var/", "/run/", "/tmp/")), (name, path)
        assert set(report["writable"]) == {"/etc", "/var", "/run", "/tmp", "/run/azimds/work"}


def test_the_machine_is_unchanged(booted: Any) -> None:
    reports, before, after = booted
    touched = set(KNOWN)
    for report in reports.values():
        touched.update(report["written"] + report["removed"])
    for path in sorted(touched):
        for place in [path, *ancestors(path)]:
            assert before.get(place) == after.get(place), f"{place} changed on the machine"
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert not [p for p in changed if "cloud-init" in p or p.startswith("/var/lib/cloud")]


def ancestors(path: str) -> List[str]:
    """Return the folders above ``path`` up to, not including, its top-level folder."""
    parents = [str(p) for p in Path(path).parents]
    return [p for p in parents if p.count("/") >= 2]
