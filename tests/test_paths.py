"""The one path grammar (azimds/imds/paths.py): request paths, field paths, addressing."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from azimds.imds.paths import (
    child,
    child_names,
    field_path,
    is_ascii_digits,
    is_index,
    split_path,
    walk,
)

DOCUMENT: Dict[str, Any] = {
    "network": {"interface": [{"macAddress": "000D3A36DDED"}]},
    "compute": {"zone": "1"},
}


@pytest.mark.parametrize(
    "path",
    ["compute/zone", "/compute/zone/", "compute.zone", "/metadata/instance/compute/zone", " a"],
)
def test_spellings_of_a_request_path(path: str) -> None:
    expected = ["a"] if path == " a" else ["compute", "zone"]
    assert split_path(path) == expected


def test_field_paths_number_no_element() -> None:
    assert field_path(["network", "interface", "0", "macAddress"]) == (
        "network.interface[].macAddress"
    )
    assert field_path([]) == ""


@pytest.mark.parametrize("segment", ["0", "7", "123456789"])
def test_indices(segment: str) -> None:
    assert is_index(segment)


@pytest.mark.parametrize("segment", ["", "-1", "+1", "1.0", "²", "٣", "\uff15", "1234567890"])
def test_not_indices(segment: str) -> None:
    assert not is_index(segment)


@pytest.mark.parametrize("text", ["0", "42", "1234567890123"])
def test_ascii_digits(text: str) -> None:
    assert is_ascii_digits(text)


@pytest.mark.parametrize("text", ["", " 1", "-1", "+1", "1.0", "1_000", "²", "٣", "\uff15"])
def test_not_ascii_digits(text: str) -> None:
    assert not is_ascii_digits(text)


def test_child_of_an_object_and_of_a_list() -> None:
    assert child(DOCUMENT["compute"], "zone") == (True, "1")
    assert child(DOCUMENT["network"]["interface"], "0") == (True, {"macAddress": "000D3A36DDED"})


@pytest.mark.parametrize(
    ("node", "segment"),
    [
        (["a"], "1"),  # past the end: a bounds check, not an IndexError
        (["a"], "9"),
        (["a"], "-1"),  # would be the last element to Python
        ({"zone": "1"}, "Zone"),  # names are case-sensitive
        ("1", "0"),  # a single value has no children
        (["a"], "²"),
    ],
)
def test_no_child(node: Any, segment: str) -> None:
    assert child(node, segment) == (False, None)


def test_walk_follows_every_segment_or_finds_nothing() -> None:
    assert walk(DOCUMENT, ["network", "interface", "0", "macAddress"]) == (True, "000D3A36DDED")
    assert walk(DOCUMENT, ["network", "interface", "1", "macAddress"]) == (False, None)
    assert walk(DOCUMENT, []) == (True, DOCUMENT)


@pytest.mark.parametrize(
    ("node", "names"), [({"b": 1, "a": 2}, ["b", "a"]), (["x", "y"], ["0", "1"]), ("v", [])]
)
def test_child_names(node: Any, names: List[str]) -> None:
    assert child_names(node) == names
