"""ansible-test sanity is clean for the collection, with the ansible-core under test.

Sanity runs from ``ansible_collections/azimds/imds`` with ``--python`` the controller's, in
virtual environments it makes (``--venv --requirements``) and keeps under ``.cache/``; the
compile test also runs on every target Python found here. Ignore entries live in
``tests/sanity/ignore-<core>.txt``, each with the reason on its line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ansible_support as support
from ci_rule import fail_under_ci
from pythons import find_python, missing

pytestmark = pytest.mark.timeout(1500)


def test_sanity_is_clean_on_the_controller_python() -> None:
    bin_dir = support.ansible_bin()
    major, minor = support.core_version(bin_dir)
    ignore = support.COLLECTION / "tests" / "sanity" / f"ignore-{major}.{minor}.txt"
    assert ignore.is_file(), f"no ignore file for ansible-core {major}.{minor}: {ignore}"
    run = support.ansible_test(
        bin_dir,
        ["sanity", "--venv", "--requirements", "--python", support.controller_version(bin_dir)],
    )
    assert run.returncode == 0, run.output[-6000:]
    assert 'Running sanity test "validate-modules"' in run.stdout
    assert 'Running sanity test "no-assert"' in run.stdout


def test_the_collection_compiles_on_every_target_python() -> None:
    bin_dir = support.ansible_bin()
    versions = support.supported_targets(bin_dir)
    found = {v: find_python(v) for v in versions}
    absent = [v for v, path in found.items() if path is None]
    if absent:  # a visible skip after compiling on the others; under CI, a failure now
        fail_under_ci("; ".join(missing(v) for v in absent))
    present = [v for v, path in found.items() if path]
    folders = sorted({str(Path(path).parent) for path in found.values() if path})
    args = ["sanity", "--test", "compile", "--venv"]
    for version in present:
        run = support.ansible_test(bin_dir, [*args, "--python", version], extra_path=folders)
        assert run.returncode == 0, f"Python {version}: {run.output[-3000:]}"
        assert f'Running sanity test "compile" on Python {version}' in run.stdout
    if absent:
        pytest.skip("compiled on " + ", ".join(present) + "; " + "; ".join(map(missing, absent)))
