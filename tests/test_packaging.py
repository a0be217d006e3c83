"""Packaging follows the layers: `pip install azimds` brings no third-party package; the
extras bring what attestation and the emulator import, and a command whose extra is missing
says which to install.

A missing extra is simulated with ``python -I -S``: no site-packages at all, so nothing but
the standard library and the azimds sources can be imported.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

import azimds
from azimds.cli.extras import EXTRAS
from azimds.emulator import Emulator
from azimds.emulator.pytest_plugin import EmulatorFactory

SOURCES = str(Path(azimds.__file__).resolve().parent.parent)
BARE = "import sys; sys.path.insert(0, sys.argv[1]); from azimds.cli import main; "


def requirements() -> Dict[str, Set[str]]:
    """Return extra ("" for none) -> the distribution names it requires, lower-case."""
    by_extra: Dict[str, Set[str]] = {}
    for line in importlib.metadata.requires("azimds") or []:
        name = re.match(r"[A-Za-z0-9_.-]+", line)
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        assert name is not None, line
        by_extra.setdefault(extra.group(1) if extra else "", set()).add(name.group(0).lower())
    return by_extra


def test_the_base_install_requires_nothing() -> None:
    assert "" not in requirements()


@pytest.mark.skipif(
    sys.version_info < (3, 10), reason="importlib.metadata.packages_distributions is 3.10+"
)
def test_each_extra_requires_the_packages_its_commands_import() -> None:
    owners = importlib.metadata.packages_distributions()
    required = requirements()
    for extra, modules in EXTRAS.items():
        assert required[extra] == {owners[module][0].lower() for module in modules}, extra
    assert required["all"] == {"azimds"}  # azimds[attest,emulator]


def bare(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``azimds ARGV`` with the standard library only (no site-packages)."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", BARE + "sys.exit(main(sys.argv[2:]))", SOURCES, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "AZIMDS_DMI_DIR": "/nonexistent"},
    )


def test_the_premise_third_party_packages_are_out_of_reach() -> None:
    for module in sorted({m for modules in EXTRAS.values() for m in modules}):
        probe = subprocess.run(
            [sys.executable, "-I", "-S", "-c", f"import {module}"], capture_output=True
        )
        assert probe.returncode != 0, module


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["verify", "doc.json", "--nonce", "abc", "--offline"], "attest"),
        (["attest", "--endpoint", "http://127.0.0.1:9", "--verify"], "attest"),
        (["emulator", "serve", "--port", "0"], "emulator"),
        (["emulator", "fleet", "fleet.yaml"], "emulator"),
    ],
)
def test_a_command_without_its_extra_says_which_to_install(argv: List[str], extra: str) -> None:
    done = bare(*argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.endswith(f"install it with: pip install 'azimds[{extra}]'\n")
    assert done.stdout == ""


def test_help_and_the_imds_commands_need_no_extra(
    imds_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emu: Emulator = imds_factory({"rate_limit": False})
    done = bare("--help")
    assert done.returncode == 0
    for command in ("get", "facts", "tags", "versions", "detect", "attest", "verify", "emulator"):
        assert command in done.stdout
    assert bare("get", "compute/zone", "--endpoint", emu.base_url).stdout == "1\n"
    facts = bare("facts", "--for", "salt", "-o", "json", "--endpoint", emu.base_url)
    assert facts.returncode == 0 and '"zone": "1"' in facts.stdout
    assert bare("detect", "--endpoint", emu.base_url).returncode == 0
