"""The collection's copy of the shipped core (plugins/module_utils) is current and marked.

The Ansible module runs on managed hosts where azimds is not installed, so the collection
carries a generated copy of ``azimds.imds`` and ``azimds.facts``; ``make collection`` writes
it. These tests fail when someone edits the source without regenerating the copy, or edits
the copy by hand.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import yaml

import azimds
from azimds import shipping

REPO = Path(__file__).resolve().parent.parent
COLLECTION = REPO / "ansible_collections" / "azimds" / "imds"
MODULE_UTILS = REPO / shipping.COLLECTION_MODULE_UTILS


def test_the_committed_copy_is_current() -> None:
    stale = shipping.stale_files(MODULE_UTILS)
    assert stale == [], f"stale copies {stale}: run `make collection`"


def test_every_shipped_package_is_copied_with_empty_inits() -> None:
    for package in azimds.SHIPPED_PACKAGES:
        init = MODULE_UTILS / package / "__init__.py"
        assert init.is_file() and init.stat().st_size == 0, init
        sources = {p.name for p in (shipping.SOURCE_ROOT / package).glob("*.py")}
        copies = {p.name for p in (MODULE_UTILS / package).glob("*.py")}
        assert copies == sources


def test_every_generated_file_names_its_source_and_says_do_not_edit() -> None:
    for relative, content in shipping.generated_files().items():
        if relative.endswith("__init__.py"):
            continue
        first = content.splitlines()[0]
        source = f"src/azimds/{relative}"
        assert first == f"# GENERATED from {source} by `make collection`; do not edit this copy."


def test_an_edited_source_or_copy_or_a_leftover_file_is_stale(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for package in azimds.SHIPPED_PACKAGES:
        shutil.copytree(shipping.SOURCE_ROOT / package, source / package)
    copy = tmp_path / "copy"
    written = shipping.write_copy(copy, source)
    assert sorted(written) == sorted(shipping.generated_files(source))
    assert shipping.stale_files(copy, source) == []

    (source / "imds" / "detect.py").write_text("# changed\n", encoding="utf-8")
    (copy / "facts" / "tags.py").write_text("# edited by hand\n", encoding="utf-8")
    (copy / "imds" / "retired.py").write_text("", encoding="utf-8")
    assert shipping.stale_files(copy, source) == [
        "imds/detect.py",
        "facts/tags.py",
        "imds/retired.py",
    ]
    shipping.write_copy(copy, source)
    assert shipping.stale_files(copy, source) == []
    assert not (copy / "imds" / "retired.py").exists()


def test_the_command_checks_and_writes(tmp_path: Path) -> None:
    assert shipping.main(["--check", str(MODULE_UTILS)]) == 0
    assert shipping.main(["--check", str(tmp_path)]) == 1
    assert shipping.main([str(tmp_path)]) == 0
    assert shipping.main(["--check", str(tmp_path)]) == 0


def test_the_shipped_core_imports_nothing_but_the_standard_library_and_itself() -> None:
    allowed_top = {"__future__", "typing"}
    for relative, content in shipping.generated_files().items():
        tree = ast.parse(content)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Assert), f"assert in {relative}: sanity forbids it"
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                top = (node.module or "").split(".")[0]
                assert top in allowed_top or top in _stdlib(), f"{relative} imports {top}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in _stdlib(), f"{relative}: {alias.name}"


def test_the_collection_version_is_azimds_version() -> None:
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text(encoding="utf-8"))
    assert galaxy["version"] == azimds.__version__
    assert (galaxy["namespace"], galaxy["name"]) == ("azimds", "imds")


def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names)
