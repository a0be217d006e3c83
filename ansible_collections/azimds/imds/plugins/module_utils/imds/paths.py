# GENERATED from src/azimds/imds/paths.py by `make collection`; do not edit this copy.
# Edit the source and run `make collection`: a test fails while this copy is stale.
"""How nodes of the instance document are named: the one path grammar, for client and emulator.

Two spellings name the same node:

* a request path, as a person writes it and as it goes into the URL: segments separated by
  ``/`` (or ``.``), array elements by their index, e.g. ``network/interface/0/macAddress``;
* a field path, as the api-version table (``versions.py``) lists fields: keys joined by
  ``.``, and ``[]`` for every element of an array, e.g. ``network.interface[].macAddress``.

``child`` and ``walk`` follow segments through a parsed document, with the same rules on
both sides of the wire: keys are case-sensitive, an index is ASCII digits within the array.

Standard library only, Python 3.8+: this module is shipped to managed hosts.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

INSTANCE_PREFIX = ("metadata", "instance")
MAX_INDEX_DIGITS = 9  # no array of an instance document comes near a billion elements


def split_path(path: str) -> List[str]:
    """Return the segments of a node path under /metadata/instance.

    "compute/zone", "/compute/zone/", "compute.zone" and "/metadata/instance/compute/zone" all
    give ``["compute", "zone"]``; "" and "/" give ``[]`` (the whole document).
    """
    segments = [s for s in path.strip().replace(".", "/").split("/") if s]
    if tuple(segments[:2]) == INSTANCE_PREFIX:
        segments = segments[2:]
    return segments


def is_ascii_digits(text: str) -> bool:
    """Return True when ``text`` is one or more ASCII digits, 0 to 9.

    ``str.isdigit`` alone would accept a superscript two or an Arabic-Indic zero.
    """
    return text.isascii() and text.isdigit()


def is_index(segment: str) -> bool:
    """Return True when ``segment`` can number an array element: 1 to 9 ASCII digits."""
    return len(segment) <= MAX_INDEX_DIGITS and is_ascii_digits(segment)


def key_path(parent: str, key: str) -> str:
    """Return the field path of ``key`` under the field path ``parent`` ("" for the document)."""
    return f"{parent}.{key}" if parent else key


def element_path(parent: str) -> str:
    """Return the field path of every element of the array at field path ``parent``."""
    return f"{parent}[]"


def element_at(parent: str, index: int) -> str:
    """Return the path of one element of the array at ``parent``, as error messages name it:
    ``network.interface[0]``."""
    return f"{parent}[{index}]"


def field_path(segments: Sequence[str]) -> str:
    """Return the field path of request-path segments.

    ``["network", "interface", "0", "macAddress"]`` gives ``"network.interface[].macAddress"``.
    """
    path = ""
    for segment in segments:
        path = element_path(path) if is_index(segment) else key_path(path, segment)
    return path


def child(node: Any, segment: str) -> Tuple[bool, Any]:
    """Return (True, the child) of ``node`` named ``segment``, or (False, None) when none.

    A dict's child is named by its key; a list's by its index (``is_index``, within the list).
    """
    if isinstance(node, dict) and segment in node:
        return True, node[segment]
    if isinstance(node, list) and is_index(segment) and int(segment) < len(node):
        return True, node[int(segment)]
    return False, None


def walk(node: Any, segments: Sequence[str]) -> Tuple[bool, Any]:
    """Return (True, the node) reached by following ``segments`` from ``node``, or
    (False, None) when one of them names nothing."""
    for segment in segments:
        found, node = child(node, segment)
        if not found:
            return False, None
    return True, node


def child_names(node: Any) -> List[str]:
    """Return the names ``child`` accepts under ``node``: its keys, or its indices."""
    if isinstance(node, dict):
        return [str(key) for key in node]
    if isinstance(node, list):
        return [str(index) for index in range(len(node))]
    return []
