"""What the README says about ds-identify, checked against each version's real ds-identify.

ds-identify (the systemd generator that runs before cloud-init) has a check for each datasource
cloud-init ships and none for AzureImds. It is run here as its own tests run it: on a fake root
(``PATH_ROOT``), with the shipped snippet, DMI data and a kernel command line, inside a private
network namespace; what it decides is the ``datasource_list`` it writes for cloud-init.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from azimds.cloudinit import SNIPPET_NAME, snippet
from azimds.emulator.netns import PrivateNetwork
from azimds.emulator.sandbox import NOT_AZURE_TAG, fake_dmi
from azimds.imds.detect import AZURE_CHASSIS_ASSET_TAG
from cloud_init_packages import Unpacked
from cloudinit_support import RELEASE_IDS, RELEASES, require

pytestmark = pytest.mark.netns

SEVERAL = "datasource_list: [AzureImds, Azure, None]\n"
PKG_ONLY = "datasource_pkg_list: [azimds.cloudinit]\n"


def ds_identify(
    release: Unpacked, root: Path, configs: Dict[str, str], tag: str, cmdline: str = ""
) -> Tuple[Optional[str], str]:
    """Run ``release``'s ds-identify on a fake root; return (the datasource_list it wrote for
    cloud-init, or None when it disabled cloud-init; its log)."""
    (root / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
    for name, text in configs.items():
        (root / "etc/cloud/cloud.cfg.d" / name).write_text(text, encoding="utf-8")
    fake_dmi(root / "sys/class/dmi/id", tag)
    (root / "proc").mkdir()
    (root / "proc/cmdline").write_text(f"root=/dev/sda1 ro {cmdline}\n")
    # This machine is no Hyper-V guest; ds-identify asks systemd-detect-virt (22.4 always).
    tools = root / "tools"
    tools.mkdir()
    (tools / "systemd-detect-virt").write_text("#!/bin/sh\necho microsoft\n")
    (tools / "systemd-detect-virt").chmod(0o755)
    env = {
        "PATH": f"{tools}:/usr/sbin:/usr/bin:/sbin:/bin",
        "PATH_ROOT": str(root),
        "PATH_RUN": str(root / "run"),
        "DI_LOG": str(root / "ds-identify.log"),
        "DI_VIRT": "microsoft",  # what systemd-detect-virt says on Azure
    }
    script = release.root / "usr/lib/cloud-init/ds-identify"
    with PrivateNetwork() as network:
        done = network.run(
            ["sh", str(script), "--force"], capture_output=True, text=True, env=env, timeout=60
        )
    log = (root / "ds-identify.log").read_text(encoding="utf-8") + done.stderr
    written = (root / "run/cloud-init/cloud.cfg").read_text(encoding="utf-8")
    if "notfound=disabled" in written:
        assert done.returncode != 0
        return None, log
    match = re.search(r"^datasource_list: \[ ?(.*?) ?\]", written, re.M)
    assert match is not None and done.returncode == 0, written
    return match.group(1), log


@pytest.fixture(params=RELEASES, ids=RELEASE_IDS)
def release(request: pytest.FixtureRequest) -> Unpacked:
    require()
    unpacked: Unpacked = request.param
    return unpacked


@pytest.mark.parametrize("tag", [AZURE_CHASSIS_ASSET_TAG, NOT_AZURE_TAG])
def test_the_shipped_snippet_is_used_as_given(release: Unpacked, tmp_path: Path, tag: str) -> None:
    listed, _ = ds_identify(release, tmp_path, {SNIPPET_NAME: snippet()}, tag)
    assert listed == "AzureImds, None"


def test_among_several_names_azureimds_is_skipped_and_cloud_init_disabled(
    release: Unpacked, tmp_path: Path
) -> None:
    configs = {SNIPPET_NAME: snippet(), "99_several.cfg": SEVERAL}
    listed, log = ds_identify(release, tmp_path, configs, NOT_AZURE_TAG)
    assert "No check method 'dscheck_AzureImds'" in log
    assert listed is None  # off Azure nothing matched: cloud-init would not run at all


def test_among_several_names_on_azure_the_built_in_azure_wins(
    release: Unpacked, tmp_path: Path
) -> None:
    configs = {SNIPPET_NAME: snippet(), "99_several.cfg": SEVERAL}
    listed, _ = ds_identify(release, tmp_path, configs, AZURE_CHASSIS_ASSET_TAG)
    assert listed == "Azure, None"


def test_ci_ds_on_the_kernel_command_line_chooses_it(release: Unpacked, tmp_path: Path) -> None:
    listed, _ = ds_identify(
        release, tmp_path, {"95_pkg.cfg": PKG_ONLY}, NOT_AZURE_TAG, "ci.ds=AzureImds"
    )
    assert listed == "AzureImds, None"


def test_ds_on_the_kernel_command_line_chooses_it_from_23_2(
    release: Unpacked, tmp_path: Path
) -> None:
    listed, _ = ds_identify(
        release, tmp_path, {"95_pkg.cfg": PKG_ONLY}, NOT_AZURE_TAG, "ds=AzureImds"
    )
    understood = tuple(int(x) for x in release.upstream.split(".")[:2]) >= (23, 2)
    assert listed == ("AzureImds, None" if understood else None)
