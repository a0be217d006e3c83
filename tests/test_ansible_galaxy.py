"""The collection builds with ansible-galaxy, installs, and works from the installed copy."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

import ansible_support as support
from ansible_support import LOOPBACK_ENDPOINT, dump_task, run_playbook

pytestmark = [
    pytest.mark.netns,
    pytest.mark.timeout(300),
]


def test_build_install_and_run_from_the_installed_collection(tmp_path: Path) -> None:
    bin_dir = support.ansible_bin()
    env = support.base_env(bin_dir, home=tmp_path / "home")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")  # not the repository
    built = support.run_in_netns(
        [
            str(bin_dir / "ansible-galaxy"),
            "collection",
            "build",
            str(support.COLLECTION),
            "--output-path",
            str(tmp_path / "dist"),
        ],
        tmp_path,
        env,
    )
    assert built.returncode == 0, built.output
    (tarball,) = (tmp_path / "dist").glob("azimds-imds-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert "plugins/modules/metadata_facts.py" in names
    assert "plugins/module_utils/imds/client.py" in names
    assert "plugins/module_utils/facts/shapes.py" in names
    assert "meta/runtime.yml" in names
    assert not any(name.startswith("tests/output") for name in names)

    installed = support.run_in_netns(
        [
            str(bin_dir / "ansible-galaxy"),
            "collection",
            "install",
            str(tarball),
            "-p",
            str(tmp_path / "collections"),
        ],
        tmp_path,
        env,
    )
    assert installed.returncode == 0, installed.output
    assert (tmp_path / "collections/ansible_collections/azimds/imds/MANIFEST.json").is_file()

    result = run_playbook(
        [
            {
                "hosts": "localhost",
                "gather_facts": False,
                "tasks": [
                    {"azimds.imds.metadata_facts": {"endpoint": LOOPBACK_ENDPOINT}},
                    dump_task("zone", "ansible_facts['azure_imds']['placement']['zone']"),
                ],
            }
        ],
        tmp_path / "play",
        env={"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections")},
    )
    assert result.run.returncode == 0, result.run.output
    assert result.dumps["zone"] == "1"  # the built-in VM's zone
