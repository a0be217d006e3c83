"""Record behaves as the typing.NamedTuple the type checker takes it for."""

from __future__ import annotations

import copy
import pickle
from typing import Any, Dict, NamedTuple, Tuple

import pytest

from azimds.imds.record import Record


class Point(Record):
    x: int
    label: str


class Twin(NamedTuple):
    x: int
    label: str


def test_fields_are_attributes_items_and_in_order() -> None:
    point = Point(1, "a")
    assert (point.x, point.label) == (1, "a") == tuple(point)
    assert point[1] == "a"
    x, label = point
    assert (x, label) == (1, "a")
    assert Point._fields == Twin._fields == ("x", "label")


def test_construction_by_position_or_name_like_named_tuple() -> None:
    assert Point(1, label="a") == Point(x=1, label="a") == Point(1, "a")
    wrong: list[Tuple[Tuple[Any, ...], Dict[str, Any]]] = [
        ((1,), {}),
        ((1, "a", 2), {}),
        ((1,), {"x": 2}),
        ((1,), {"y": 2}),
    ]
    for args, named in wrong:
        with pytest.raises(TypeError):
            Twin(*args, **named)
        with pytest.raises(TypeError):
            Point(*args, **named)


def test_equality_hash_repr_and_dict_match_named_tuple() -> None:
    point, twin = Point(1, "a"), Twin(1, "a")
    assert tuple(point) == tuple(twin) and hash(point) == hash(twin)
    assert repr(point) == "Point(x=1, label='a')" == repr(twin).replace("Twin", "Point")
    assert point._asdict() == twin._asdict() == {"x": 1, "label": "a"}
    assert point._replace(label="b") == Point(1, "b")


def test_records_are_immutable_and_survive_copy_and_pickle() -> None:
    point = Point(1, "a")
    with pytest.raises(AttributeError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.other = 2  # type: ignore[attr-defined]
    assert copy.copy(point) == point
    assert pickle.loads(pickle.dumps(point)) == point
    assert type(pickle.loads(pickle.dumps(point))) is Point
