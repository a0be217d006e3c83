"""Copy the packages shipped to managed hosts into a folder, each file marked as generated.

The Ansible collection carries ``azimds.imds`` and ``azimds.facts`` (``SHIPPED_PACKAGES``) in
its ``plugins/module_utils/``, because its module runs on hosts where azimds is not installed.
This module writes that copy (``make collection``) and tells whether a copy is stale (a test
runs that check). Every ``__init__.py`` is written empty: ansible-test's ``empty-init`` sanity
test requires it, so nothing may rely on code in a shipped package's ``__init__.py``.

    python -m azimds.shipping DEST            # write the copy into DEST
    python -m azimds.shipping --check DEST    # exit 1 and name the stale files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from . import SHIPPED_PACKAGES

SOURCE_ROOT = Path(__file__).resolve().parent
COLLECTION_MODULE_UTILS = Path("ansible_collections/azimds/imds/plugins/module_utils")

HEADER = (
    "# GENERATED from src/azimds/{source} by `make collection`; do not edit this copy.\n"
    "# Edit the source and run `make collection`: a test fails while this copy is stale.\n"
)


def generated_files(source_root: Path = SOURCE_ROOT) -> Dict[str, str]:
    """Return {path relative to the destination: content} for every shipped module.

    ``__init__.py`` files map to "" (empty); every other ``.py`` file starts with the
    generated-file header naming its source.
    """
    files: Dict[str, str] = {}
    for package in SHIPPED_PACKAGES:
        for path in sorted((source_root / package).rglob("*.py")):
            relative = path.relative_to(source_root).as_posix()
            if path.name == "__init__.py":
                files[relative] = ""
            else:
                text = path.read_text(encoding="utf-8")
                files[relative] = HEADER.format(source=relative) + text
    return files


def stale_files(destination: Path, source_root: Path = SOURCE_ROOT) -> List[str]:
    """Return the relative paths under ``destination`` that differ from a fresh copy.

    A missing file, a file whose content differs, and a ``.py`` file in a shipped package's
    folder that has no source are all stale. An empty list means the copy is current.
    """
    expected = generated_files(source_root)
    stale = []
    for relative, content in expected.items():
        target = destination / relative
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            stale.append(relative)
    for package in SHIPPED_PACKAGES:
        for path in sorted((destination / package).rglob("*.py")):
            relative = path.relative_to(destination).as_posix()
            if relative not in expected:
                stale.append(relative)
    return stale


def write_copy(destination: Path, source_root: Path = SOURCE_ROOT) -> List[str]:
    """Write a fresh copy into ``destination``; return the relative paths that changed.

    Files in the shipped packages' folders that have no source any more are removed.
    """
    changed = stale_files(destination, source_root)
    expected = generated_files(source_root)
    for relative in changed:
        target = destination / relative
        if relative in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[relative], encoding="utf-8")
        else:
            target.unlink()
    return changed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status (1: ``--check`` found stale files)."""
    parser = argparse.ArgumentParser(
        prog="python -m azimds.shipping",
        description="Copy azimds' shipped packages (standard library only) into DEST.",
    )
    parser.add_argument(
        "destination",
        nargs="?",
        default=str(COLLECTION_MODULE_UTILS),
        help="folder to write into (default: %(default)s)",
    )
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    destination = Path(args.destination)
    if args.check:
        stale = stale_files(destination)
        for relative in stale:
            print(f"stale: {destination / relative}", file=sys.stderr)
        if stale:
            print("run `make collection` to regenerate the copy", file=sys.stderr)
        return 1 if stale else 0
    for relative in write_copy(destination):
        print(f"wrote {destination / relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
