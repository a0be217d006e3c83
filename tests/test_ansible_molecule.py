"""The molecule scenario (molecule/default) passes: converge gathers, verify asserts.

Molecule runs with the default driver on localhost, no containers and no galaxy downloads,
inside a private network namespace where the emulator serves molecule/default/vm-profile.yml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import ansible_support as support
from ansible_support import LOOPBACK_ENDPOINT

pytestmark = [
    pytest.mark.netns,
    pytest.mark.timeout(600),
]

SCENARIO = support.REPO / "molecule" / "default"


def test_molecule_scenario_converges_and_verifies(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent  # molecule lives in the project's .venv
    env = support.base_env(bin_dir, home=tmp_path / "home")
    del env["ANSIBLE_CONFIG"]  # molecule writes its own ansible.cfg from molecule.yml
    env["AZIMDS_ENDPOINT"] = LOOPBACK_ENDPOINT
    env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(tmp_path / "molecule")
    profile = yaml.safe_load((SCENARIO / "vm-profile.yml").read_text(encoding="utf-8"))
    run = support.run_in_netns(
        [str(bin_dir / "molecule"), "test", "--scenario-name", "default"],
        support.REPO,
        env,
        profile=profile,
    )
    assert run.returncode == 0, run.output[-6000:]
    assert "Check the Azure IMDS facts" in run.output
    assert "zone 3, fault domain 2, update domain 4" in run.output
    assert len(run.instance_requests()) == 1  # gathered once in converge, read from the cache
