"""azimds.imds.jsontext gives what json.loads and json.dumps(indent=2) give, without json."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azimds.imds import jsontext

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


def same(a: Any, b: Any) -> bool:
    """Equal, where NaN equals NaN (json turns "NaN" into a float that equals nothing)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values, st.sampled_from([None, 2]), st.booleans())
def test_loads_reads_what_json_writes(value: Any, indent: Any, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    assert same(jsontext.loads(f" \n{text}\t "), json.loads(text))


@given(st.text(alphabet=' \t\n\r{}[]":,0123456789.eE+-truefalsnNIiy\\u\x00é', max_size=30))
def test_loads_accepts_and_refuses_exactly_what_json_loads_does(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            jsontext.loads(text)
    else:
        assert same(jsontext.loads(text), expected)


@pytest.mark.parametrize(
    "text, where",
    [("", 0), ("   ", 3), ('{"a": 1} x', 9), ("[1,", 3), ('{"a" 1}', 5), ('"\x01"', 1)],
)
def test_loads_errors_say_where_like_json(text: str, where: int) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        jsontext.loads(text)
    assert raised.value.pos == where


def test_loads_turns_hostile_nesting_into_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        jsontext.loads("[" * 200_000 + "]" * 200_000)


@given(values)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", 2.5: "b", False: "c", None: "d"},
        (1, [2, (3,)]),
        {"nested": {}, "empty": [], "inf": [float("inf"), float("-inf")]},
        "line\nbreak \u2028 \x00 é \U0001f600",
    ],
)
def test_dumps_matches_json_on_keys_tuples_and_special_values(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [{"a": {1, 2}}, [b"bytes"], {("a",): 1}])
def test_dumps_refuses_what_json_refuses(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        jsontext.dumps(value)


def test_dumps_refuses_a_value_that_contains_itself() -> None:
    loop: list[Any] = [1]
    loop.append({"again": loop})
    with pytest.raises(ValueError, match="Circular"):
        jsontext.dumps(loop)


def test_without_the_c_module_the_results_are_json_s_own() -> None:
    """On an interpreter without _json, json's own Python code is used, with equal results."""
    src = Path(jsontext.__file__).parents[1]
    script = f"""
import sys
sys.modules["_json"] = None  # as on an interpreter without the C accelerator
sys.path.insert(0, {str(src)!r})
import json
from azimds.imds import jsontext
value = {{"a": [1, 2.5, "é\\n", None, True], "b": {{}}}}
assert jsontext.loads(json.dumps(value)) == value
assert jsontext.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)
try:
    jsontext.loads("[1,")
except ValueError:
    print("ok")
"""
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
