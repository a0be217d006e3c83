"""The shipped packages (azimds.SHIPPED_PACKAGES) keep the rules of the places they go to.

They are copied into an Ansible collection's module_utils (checked by ``ansible-test sanity``)
and imported by Salt and cloud-init: Python 3.8 grammar, the standard library only, relative
imports between the shipped packages only, no ``assert`` (sanity's no-assert), no ``print``.
And nowhere in the repository is a private CPython module imported.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import azimds

PACKAGE = Path(azimds.__file__).resolve().parent
SHIPPED = [path for name in azimds.SHIPPED_PACKAGES for path in (PACKAGE / name).rglob("*.py")]
REPOSITORY = PACKAGE.parent.parent
EVERYTHING = sorted(
    path for folder in ("src", "tests", "bench") for path in (REPOSITORY / folder).rglob("*.py")
)


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path), feature_version=(3, 8))


def imported(module: ast.Module) -> Iterator[Tuple[int, str, int]]:
    """Yield (line, module name, relative level) of every import in ``module``."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level


def shown(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


def test_the_shipped_packages_are_found() -> None:
    assert {path.parent.name for path in SHIPPED} == set(azimds.SHIPPED_PACKAGES)


@pytest.mark.parametrize("path", SHIPPED, ids=shown)
def test_shipped_modules_have_no_assert_and_no_print(path: Path) -> None:
    for node in ast.walk(tree(path)):
        assert not isinstance(node, ast.Assert), f"{shown(path)}:{node.lineno}: assert"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{shown(path)}:{node.lineno}: print"


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is 3.10+")
@pytest.mark.parametrize("path", SHIPPED, ids=shown)
def test_shipped_modules_import_the_standard_library_and_each_other_only(path: Path) -> None:
    problems: List[str] = []
    for line, name, level in imported(tree(path)):
        if level == 0:
            if name.partition(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                problems.append(f"{line}: {name} is not in the standard library")
        elif level > 2 or (level == 2 and name.partition(".")[0] not in azimds.SHIPPED_PACKAGES):
            problems.append(f"{line}: {'.' * level}{name} leaves the shipped packages")
    assert problems == [], shown(path)


@pytest.mark.parametrize("path", EVERYTHING, ids=shown)
def test_no_module_imports_a_private_module(path: Path) -> None:
    private = [
        f"{line}: {name}"
        for line, name, level in imported(ast.parse(path.read_text()))
        if level == 0 and name.partition(".")[0].startswith("_") and name != "__future__"
    ]
    assert private == [], shown(path)
